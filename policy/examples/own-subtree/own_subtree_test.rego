package restcomm.own_subtree_test

import data.restcomm.authz.decision

admin := {"sid": "ACadmin", "role": "Administrator", "status": "active", "organization_sid": "ORG0", "ancestors": []}

dev := object.union(admin, {"sid": "ACdev", "role": "Developer", "ancestors": [admin.sid]})

cadm := object.union(admin, {"sid": "ACcadm", "ancestors": [admin.sid]})

grand := object.union(admin, {"sid": "ACgrand", "ancestors": [dev.sid, admin.sid]})

topdev := object.union(dev, {"sid": "ACtopdev", "ancestors": []})

# A proxied /Accounts/{name}/Calls.json request by caller, where {name}
# resolves to account (null: to nothing).
calls(caller, name, account) := object.union(
	{"operation": "proxy", "method": "GET", "path": concat("", ["Accounts/", name, "/Calls.json"]), "caller": caller, "path_account_sid": name, "request": {}},
	{k: v | some k, v in {"path_account": account}; v != null},
)

forbids(d) if [d.allow, d.status, d.stage] == [false, 403, 10]

test_own_and_descendants_subresources if {
	every a in [admin, dev, cadm, grand, topdev] {
		decision.allow with input as calls(a, a.sid, a)
	}
	every r in [[admin, dev], [admin, grand], [dev, grand]] { # RestComm still applies its role rules
		decision.allow with input as calls(r[0], r[1].sid, r[1])
	}
}

test_not_parents_siblings_strangers_or_unknown_accounts if {
	every r in [[cadm, admin], [cadm, dev], [grand, dev], [topdev, admin], [admin, topdev]] {
		forbids(decision) with input as calls(r[0], r[1].sid, r[1])
	}
	forbids(decision) with input as calls(admin, "AC0000000000000000000000000000dead", null)
}

# What counts is the account the name resolves to, not how it is spelt.
test_resolved_account_decides if {
	decision.allow with input as calls(admin, "child@company.com", dev)
	forbids(decision) with input as calls(cadm, cadm.sid, topdev) # a friendly name squatting cadm's SID
}

test_paths_without_account_and_unprotected_paths_pass if {
	decision.allow with input as {"operation": "proxy", "method": "GET", "path": "Profiles/PRx", "caller": cadm, "request": {}}
	decision.allow with input as {"operation": "proxy", "method": "GET", "path": "Accounts/ACadmin/Recordings/RE1.wav", "path_account_sid": "ACadmin", "request": {}}
}

test_gate_first if {
	d := decision with input as object.remove(calls(cadm, admin.sid, admin), ["caller"])
	d.status == 401
	s := decision with input as calls(object.union(cadm, {"status": "suspended"}), admin.sid, admin)
	s.message == "Provided Account is not active"
}
