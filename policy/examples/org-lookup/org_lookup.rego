# Developers look up the accounts of their organization, read only
# (policy/README.md, worked example e). Read reach reads: it never lets a
# Developer update an account, and the accounts it reads are answered
# without their AuthToken, a credential.
package restcomm.overlay.org_lookup

may_read_target if {
	input.caller.role == "Developer"
	input.target.organization_sid == input.caller.organization_sid
}
