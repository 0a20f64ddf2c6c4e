# Tests of the overlay, run with the built-in policy's own whenever the
# directory is loaded.
package restcomm.team_test

import data.restcomm.authz.decision

admin := {"sid": "ACadmin", "role": "Administrator", "status": "active", "organization_sid": "ORG0", "ancestors": []}

read_from(ip) := {"operation": "accounts:read", "method": "GET", "path": "Accounts.json/ACadmin", "client_ip": ip, "caller": admin, "target": admin, "request": {}}

test_a_blocked_network_is_refused if {
	d := decision with input as read_from("203.0.113.7") with data.restcomm.team.blocked_networks as ["203.0.113.0/24"]
	[d.allow, d.status, d.message] == [false, 403, "Network is blocked"]
}

test_other_networks_pass if {
	decision.allow with input as read_from("198.51.100.1") with data.restcomm.team.blocked_networks as ["203.0.113.0/24"]
	decision.allow with input as read_from("203.0.113.7") # nothing is blocked at first
}
