package restcomm.auditor_test

import data.restcomm.authz.decision

admin := {"sid": "ACadmin", "role": "Administrator", "status": "active", "organization_sid": "ORG0", "ancestors": []}

auditor := object.union(admin, {"sid": "ACaudit", "role": "Auditor", "ancestors": [admin.sid]})

audited := object.union(admin, {"sid": "ACaudited", "role": "Developer", "ancestors": [auditor.sid, admin.sid]})

sibling := object.union(audited, {"sid": "ACsibling", "ancestors": [admin.sid]})

top := object.union(auditor, {"sid": "ACtop", "ancestors": []}) # a Super Admin by structure

below_top := object.union(admin, {"sid": "ACbelow", "ancestors": [top.sid]})

req(op, method, caller, target) := {"operation": op, "method": method, "path": "Accounts.json/x", "caller": caller, "target": target, "request": {}}

refused(op, method, caller, target, stage) if {
	d := decision with input as req(op, method, caller, target)
	[d.status, d.stage] == [403, stage]
}

test_reads_itself_and_its_subtree if {
	every r in [[auditor, audited, {"hide_auth_token": true}], [top, below_top, {"hide_auth_token": true}], [auditor, auditor, {}]] {
		decision == object.union({"allow": true}, r[2]) with input as req("accounts:read", "GET", r[0], r[1])
	}
	decision.allow with input as req("accounts:list", "GET", auditor, null)
}

test_reads_nothing_outside_its_subtree if {
	every r in [[auditor, admin], [auditor, sibling], [top, audited]] {
		refused("accounts:read", "GET", r[0], r[1], 30)
	}
}

test_changes_nothing_and_passes_only_reads_upstream if {
	every op in ["accounts:create", "accounts:update", "accounts:migrate", "organizations:create", "organizations:migrate", "proxy"] {
		every caller in [auditor, top] {
			refused(op, "POST", caller, below_top, 10)
		}
	}
	every method in ["GET", "HEAD", "OPTIONS"] {
		decision.allow with input as req("proxy", method, auditor, null)
	}
}

test_the_status_gate_comes_first_and_other_roles_are_unchanged if {
	d := decision with input as req("accounts:read", "GET", object.union(auditor, {"status": "suspended"}), auditor)
	d.message == "Provided Account is not active"
	decision.allow with input as req("accounts:update", "POST", admin, audited)
	decision.allow with input as req("proxy", "POST", sibling, null)
	refused("accounts:read", "GET", sibling, audited, 30)
}
