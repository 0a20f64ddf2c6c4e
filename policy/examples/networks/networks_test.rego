package restcomm.networks_test

import data.restcomm.authz.decision

admin := {"sid": "ACadmin", "role": "Administrator", "status": "active", "organization_sid": "ORG0", "ancestors": []}

child := object.union(admin, {"sid": "ACchild", "role": "Developer", "ancestors": [admin.sid]})

stored_role := object.union(child, {"sid": "ACstored", "role": "SuperAdmin"}) # below admin

grandchild := object.union(child, {"sid": "ACgrand", "ancestors": [stored_role.sid, admin.sid]})

from(ip, op, caller, target, request) := object.union(
	{"operation": op, "method": "GET", "path": "Accounts.json", "caller": caller, "target": target, "request": request},
	{"client_ip": ip | ip != ""},
)

inside := ["10.1.2.3", "10.255.255.255", "192.168.10.77", "fd00:10::1"]

outside := ["", "203.0.113.7", "192.168.11.1", "11.0.0.1", "fd00:11::1"]

super_admin_operations := [
	["organizations:list", null, {}],
	["organizations:create", null, {}],
	["accounts:migrate", child, {}],
	["accounts:list", null, {"organization_filter": true}],
	["accounts:create", null, {"organization_sid": "ORG1"}],
]

test_super_admin_operations_only_from_an_admin_network if {
	every o in super_admin_operations {
		every ip in inside {
			decision.allow with input as from(ip, o[0], admin, o[1], o[2])
		}
		every ip in outside {
			d := decision with input as from(ip, o[0], admin, o[1], o[2])
			[d.allow, d.status] == [false, 403]
		}
	}
}

test_stored_super_admin_role_needs_the_network_too if {
	decision.allow with input as from("10.1.2.3", "accounts:migrate", stored_role, grandchild, {})
	d := decision with input as from("203.0.113.7", "accounts:migrate", stored_role, grandchild, {})
	[d.status, d.stage] == [403, 10]
}

test_ordinary_operations_from_anywhere if {
	every ip in array.concat(inside, outside) {
		decision.allow with input as from(ip, "accounts:read", admin, child, {})
		decision.allow with input as from(ip, "accounts:update", admin, child, {})
		decision.allow with input as from(ip, "accounts:create", admin, null, {"organization_sid": "ORG0"})
		decision.allow with input as from(ip, "proxy", admin, null, {})
	}
}

test_the_networks_are_data if {
	decision.allow with input as from("203.0.113.7", "organizations:list", admin, null, {})
		with data.restcomm.networks.super_admin as ["203.0.113.0/24"]
}
