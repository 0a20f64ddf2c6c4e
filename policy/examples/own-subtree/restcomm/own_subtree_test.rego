# Tests of the own-subtree edge rule (policy/examples/own-subtree).
package restcomm.own_subtree_test

import data.restcomm.authz.decision

admin := {"sid": "ACadmin", "role": "Administrator", "status": "active", "organization_sid": "ORG0", "ancestors": []}

dev := {"sid": "ACdev", "role": "Developer", "status": "active", "organization_sid": "ORG0", "ancestors": [admin.sid]}

cadm := {"sid": "ACcadm", "role": "Administrator", "status": "active", "organization_sid": "ORG0", "ancestors": [admin.sid]}

grand := {"sid": "ACgrand", "role": "Administrator", "status": "active", "organization_sid": "ORG0", "ancestors": [dev.sid, admin.sid]}

topdev := {"sid": "ACtopdev", "role": "Developer", "status": "active", "organization_sid": "ORG0", "ancestors": []}

# A proxied /Accounts/{name}/Calls.json request by caller, where {name}
# resolves to account (null: to nothing).
calls(caller, name, account) := object.union(
	{"operation": "proxy", "method": "GET", "path": concat("", ["Accounts/", name, "/Calls.json"]), "caller": caller, "path_account_sid": name, "request": {}},
	{k: v | some k, v in {"path_account": account}; v != null},
)

allows(d) if d.allow == true

forbids(d) if {
	d.allow == false
	d.status == 403
	d.stage == 10
}

test_own_subresources if {
	every a in [admin, dev, cadm, grand, topdev] {
		allows(decision) with input as calls(a, a.sid, a)
	}
}

test_descendants_subresources if {
	allows(decision) with input as calls(admin, dev.sid, dev)
	allows(decision) with input as calls(admin, grand.sid, grand)
	allows(decision) with input as calls(dev, grand.sid, grand) # RestComm upstream still applies its role rules
}

test_not_parents_siblings_or_strangers if {
	forbids(decision) with input as calls(cadm, admin.sid, admin)
	forbids(decision) with input as calls(cadm, dev.sid, dev)
	forbids(decision) with input as calls(grand, dev.sid, dev)
	forbids(decision) with input as calls(topdev, admin.sid, admin)
	forbids(decision) with input as calls(admin, topdev.sid, topdev)
}

# The path's name is read as RestComm reads it: what counts is the account
# it resolves to, not how it is spelt.
test_resolved_account_decides if {
	allows(decision) with input as calls(admin, "child@company.com", dev)
	forbids(decision) with input as calls(cadm, cadm.sid, topdev) # a friendly name squatting cadm's SID
}

test_unknown_or_ambiguous_account_is_refused if {
	forbids(decision) with input as calls(admin, "AC0000000000000000000000000000dead", null)
}

test_paths_without_account_pass if {
	allows(decision) with input as {"operation": "proxy", "method": "GET", "path": "Profiles/PRx", "caller": cadm, "request": {}}
	allows(decision) with input as {"operation": "proxy", "method": "GET", "path": "", "caller": cadm, "request": {}}
}

test_gate_first if {
	d := decision with input as object.remove(calls(cadm, admin.sid, admin), ["caller"])
	d.status == 401
	s := decision with input as calls(object.union(cadm, {"status": "suspended"}), admin.sid, admin)
	s.message == "Provided Account is not active"
}

test_unprotected_paths_stay_unprotected if {
	allows(decision) with input as {"operation": "proxy", "method": "GET", "path": "Accounts/ACadmin/Recordings/RE1.wav", "path_account_sid": "ACadmin", "request": {}}
}
