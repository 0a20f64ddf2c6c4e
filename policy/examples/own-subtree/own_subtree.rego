# An account reaches only its own subtree through RestComm (docs/restcomm-contract.md, "Pass-through to RestComm").
# A request passed to RestComm for /Accounts/{accountSid}/... passes only
# when {accountSid} names the caller or one of its descendants.
# input.path_account is that account as RestComm's sub-resource endpoints
# read it; it is absent when nothing or several accounts match, which is
# refused too. Paths without an account (Profiles, ...) and the paths
# RestComm serves without credentials are left to RestComm as before. The
# refusal is an endpoint's (stage 10): a body over the limit is reported
# first, as RestComm would.
package restcomm.overlay.own_subtree

deny_operation contains {"status": 403, "stage": 10} if {
	input.operation == "proxy"
	input.path_account_sid
	not reaches_path_account
}

reaches_path_account if input.path_account.sid == input.caller.sid

reaches_path_account if input.caller.sid in input.path_account.ancestors
