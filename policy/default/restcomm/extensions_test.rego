# Tests of the extension points (extensions.rego): an overlay's rules are
# stood in for by data.restcomm.overlay values.
package restcomm.extensions_test

import data.restcomm.authz.decision

admin := {"sid": "ACadmin", "role": "Administrator", "status": "active", "organization_sid": "ORG0", "ancestors": []}

dev := {"sid": "ACdev", "role": "Developer", "status": "active", "organization_sid": "ORG0", "ancestors": [admin.sid]}

peer := {"sid": "ACpeer", "role": "Developer", "status": "active", "organization_sid": "ORG0", "ancestors": [admin.sid]}

req(op, caller, target) := {"operation": op, "method": "GET", "path": "Accounts.json/x", "caller": caller, "target": target, "request": {}}

blocked := {"team": {"deny": {{"status": 403, "message": "Blocked"}}}}

test_deny_refuses_every_authenticated_request_before_the_gate if {
	every op in ["proxy", "none", "accounts:read", "accounts:list", "organizations:list"] {
		every caller in [admin, object.union(dev, {"status": "suspended"})] {
			d := decision with input as req(op, caller, dev) with data.restcomm.overlay as blocked
			d == {"allow": false, "status": 403, "message": "Blocked", "body": "plain", "stage": 0}
		}
	}
}

test_deny_passes_through_unprotected_paths_too if {
	d := decision with input as object.union(req("proxy", dev, null), {"path": "Logout"}) with data.restcomm.overlay as blocked
	d.status == 403
}

test_deny_without_a_message_is_the_page if {
	d := decision with input as req("proxy", dev, null) with data.restcomm.overlay as {"t": {"deny": {{"status": 451}}}}
	d == {"allow": false, "status": 451, "message": "", "body": "page", "stage": 0}
}

test_deny_keeps_to_its_shape if {
	d := decision with input as req("proxy", dev, null)
		with data.restcomm.overlay as {"t": {"deny": {{"status": 409, "message": "m", "stage": 99, "body": "typed", "allow": true}}}}
	d == {"allow": false, "status": 409, "message": "m", "body": "plain", "stage": 0}
}

test_deny_comes_after_throttling_and_credentials if {
	anonymous := {"operation": "proxy", "method": "GET", "path": "Logout", "request": {}}
	decision.anonymous with input as anonymous with data.restcomm.overlay as blocked
	denied := decision with input as object.remove(req("accounts:read", dev, dev), ["caller"]) with data.restcomm.overlay as blocked
	denied.status == 401
	throttled := decision with input as object.union(req("proxy", dev, null), {"throttle": {"login_ip_failures": 99, "ip_failures": 0, "retry_after": 5}})
		with data.restcomm.overlay as blocked
		with data.restcomm.throttle as {"window_seconds": 60, "login_ip_max_failures": 10, "ip_max_failures": 100}
	throttled.status == 429
}

test_several_packages_one_answer if {
	d := decision with input as req("proxy", dev, null)
		with data.restcomm.overlay as {"a": {"deny": {{"status": 403}}}, "b": {"deny": {{"status": 429, "message": "x"}}}, "c": {}}
	d.allow == false
	d.status in {403, 429}
}

read_only := {"t": {"deny_operation": {{"status": 403}}}}

test_deny_operation_refuses_what_the_operation_allows if {
	d := decision with input as req("accounts:read", dev, dev) with data.restcomm.overlay as read_only
	d == {"allow": false, "status": 403, "message": "", "body": "page", "stage": 10}
	p := decision with input as req("proxy", dev, null)
		with data.restcomm.overlay as {"t": {"deny_operation": {{"status": 404, "message": "No", "body": "typed", "stage": 12}}}}
	p == {"allow": false, "status": 404, "message": "No", "body": "typed", "stage": 12}
}

test_deny_operation_the_earliest_stage_wins if {
	# the operation refuses at 30 (hierarchy): an earlier refusal wins, a later one does not
	early := decision with input as req("accounts:read", dev, peer) with data.restcomm.overlay as read_only
	early.stage == 10
	late := decision with input as req("accounts:read", dev, peer)
		with data.restcomm.overlay as {"t": {"deny_operation": {{"status": 409, "stage": 40}}, "u": {"deny_operation": {{"status": 410, "stage": 35}}}}}
	late == {"allow": false, "status": 403, "message": "", "body": "page", "stage": 30}
	tie := decision with input as req("accounts:read", dev, peer)
		with data.restcomm.overlay as {"t": {"deny_operation": {{"status": 409, "stage": 30}}}}
	tie.status == 403
	named := decision with input as req("accounts:read", dev, dev)
		with data.restcomm.overlay as {"t": {"deny_operation": {{"status": 409, "stage": "hierarchy"}}}}
	[named.status, named.stage] == [409, 30]
	two := decision with input as req("accounts:read", dev, dev)
		with data.restcomm.overlay as {"t": {"deny_operation": {{"status": 409, "stage": 40}}}, "u": {"deny_operation": {{"status": 410, "stage": 35}}}}
	two.status == 410
}

test_deny_operation_keeps_the_gate_first if {
	d := decision with input as req("accounts:read", object.union(dev, {"status": "closed"}), dev) with data.restcomm.overlay as read_only
	d.message == "Provided Account is not active"
}

test_deny_operation_passes_unprotected_paths_anonymously if {
	d := decision with input as object.union(req("proxy", dev, null), {"path": "Logout"}) with data.restcomm.overlay as read_only
	d == {"allow": true, "anonymous": true}
}

test_may_operate_on_target_grants_reach if {
	not decision.allow with input as req("accounts:read", dev, peer)
	decision.allow with input as req("accounts:read", dev, peer) with data.restcomm.overlay as {"t": {"may_operate_on_target": true}}
	not decision.allow with input as req("accounts:read", dev, peer) with data.restcomm.overlay as {"t": {"may_operate_on_target": false}}

	# reach is not permission, and a missing target is still 404
	guest := object.union(dev, {"role": "Guest"})
	g := decision with input as req("accounts:read", guest, peer) with data.restcomm.overlay as {"t": {"may_operate_on_target": true}}
	g.stage == 10
	n := decision with input as req("accounts:read", dev, null) with data.restcomm.overlay as {"t": {"may_operate_on_target": true}}
	n.status == 404
}

test_deny_super_admin_takes_both_ways_away if {
	no := {"t": {"deny_super_admin": true}}
	decision.allow with input as req("organizations:list", admin, null)
	d := decision with input as req("organizations:list", admin, null) with data.restcomm.overlay as no
	d.stage == 10
	stored := object.union(dev, {"role": "SuperAdmin"})
	decision.allow with input as req("organizations:list", stored, null)
	not decision.allow with input as req("organizations:list", stored, null) with data.restcomm.overlay as no

	# an ordinary account of its role still
	decision.allow with input as req("accounts:read", admin, dev) with data.restcomm.overlay as no
}
