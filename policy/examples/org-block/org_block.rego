# Every account of a blocked organization refused at the edge
# (policy/README.md, worked example c). The organizations are data,
# restcomm/blocked/data.json. The refusal comes right after authentication
# (without credentials nobody is known: wrong ones are still a 401, and the
# paths RestComm serves without credentials stay open) and before the status
# gate, so it holds whatever the account's status, role or path, and
# nothing such an account asks reaches RestComm. Other organizations'
# accounts, Super Admins included, still manage the blocked accounts.
package restcomm.overlay.org_block

deny contains {"status": 403, "message": "Organization is blocked"} if {
	input.caller.organization_sid in data.restcomm.blocked.organizations
}
