package restcomm.org_lookup_test

import data.restcomm.authz.decision

admin := {"sid": "ACadmin", "role": "Administrator", "status": "active", "organization_sid": "ORG0", "ancestors": []}

dev := object.union(admin, {"sid": "ACdev", "role": "Developer", "ancestors": [admin.sid]})

peer := object.union(admin, {"sid": "ACpeer", "ancestors": [admin.sid]})

other := object.union(peer, {"sid": "ACother", "organization_sid": "ORG1"})

req(op, caller, target) := {"operation": op, "method": "GET", "path": "Accounts.json/x", "caller": caller, "target": target, "request": {}}

test_reads_its_organization_without_auth_tokens if {
	every target in [admin, peer] {
		d := decision with input as req("accounts:read", dev, target)
		d == {"allow": true, "hide_auth_token": true}
	}
	decision == {"allow": true} with input as req("accounts:read", dev, dev)
}

test_reads_no_other_organization if {
	d := decision with input as req("accounts:read", dev, other)
	[d.status, d.stage] == [403, 30]
}

test_updates_nothing_it_only_reads if {
	every target in [admin, peer] {
		d := decision with input as object.union(req("accounts:update", dev, target), {"method": "PUT"})
		[d.status, d.stage] == [403, 30]
	}
	decision.allow with input as req("accounts:update", dev, dev)
}

test_other_roles_are_unchanged if {
	not decision.allow with input as req("accounts:read", peer, other)
	d := decision with input as req("accounts:read", peer, dev)
	[d.status, d.stage] == [403, 30]
	decision == {"allow": true} with input as req("accounts:read", admin, dev)
}
