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

test_may_read_target_grants_read_reach if {
	every point in ["may_read_target", "may_operate_on_target"] {
		not decision.allow with input as req("accounts:read", dev, peer)
		decision.allow with input as req("accounts:read", dev, peer) with data.restcomm.overlay as {"t": {point: true}}
		not decision.allow with input as req("accounts:read", dev, peer) with data.restcomm.overlay as {"t": {point: false}}

		# reach is not permission, and a missing target is still 404
		guest := object.union(dev, {"role": "Guest"})
		g := decision with input as req("accounts:read", guest, peer) with data.restcomm.overlay as {"t": {point: true}}
		g.stage == 10
		n := decision with input as req("accounts:read", dev, null) with data.restcomm.overlay as {"t": {point: true}}
		n.status == 404
	}
}

update(caller, target) := object.union(req("accounts:update", caller, target), {"method": "PUT"})

# The overlay meant to let Developers look accounts up in their
# organization: with the one boolean of earlier releases, a Developer also
# reset the top-level administrator's password. Read reach reads, and
# without the AuthToken, which RestComm accepts as the password.
test_read_reach_never_modifies if {
	every point in ["may_read_target", "may_operate_on_target"] {
		overlay := {"t": {point: true}}
		every target in [admin, peer, cadm] {
			r := decision with input as req("accounts:read", dev, target) with data.restcomm.overlay as overlay
			r == {"allow": true, "hide_auth_token": true}
			u := decision with input as update(dev, target) with data.restcomm.overlay as overlay
			[u.allow, u.status, u.stage] == [false, 403, 30]
		}
	}
}

cadm := object.union(admin, {"sid": "ACcadm", "ancestors": [admin.sid]})

below := object.union(dev, {"sid": "ACbelow", "ancestors": [dev.sid, admin.sid]})

# The AuthToken is shown to the account itself and to whoever may change
# its password anyway.
test_the_auth_token_goes_to_who_may_change_the_password if {
	every r in [[dev, dev], [admin, dev], [admin, admin], [cadm, cadm]] {
		decision == {"allow": true} with input as req("accounts:read", r[0], r[1])
	}
	auditor := object.union(dev, {"role": "Auditor"})
	decision == {"allow": true} with input as req("accounts:read", auditor, auditor) with data.restcomm.roles.Auditor as ["RestComm:Read:Accounts"]
	overlay := {"t": {"may_read_target": true, "may_modify_target": true}}
	decision == {"allow": true} with input as req("accounts:read", dev, peer) with data.restcomm.overlay as overlay

	# modify reach without the permission to modify is read reach
	decision == {"allow": true, "hide_auth_token": true} with input as req("accounts:read", auditor, below)
		with data.restcomm.overlay as overlay
		with data.restcomm.roles.Auditor as ["RestComm:Read:Accounts"]
}

# Modify reach covers accounts below and beside the caller, never one above
# it: an ancestor, a Super Admin (top-level in any status, or a stored role
# SuperAdmin), an account whose role holds more than the caller's.
above := [
	admin, # an ancestor, and a Super Admin
	object.union(admin, {"sid": "ACtop", "role": "Developer"}), # another top-level account
	object.union(admin, {"sid": "ACtopu", "status": "uninitialized"}), # a password would activate it
	object.union(peer, {"role": "SuperAdmin"}),
	object.union(peer, {"role": "Administrator"}),
]

test_modify_reach_stops_below_the_caller if {
	overlay := {"t": {"may_modify_target": true}}
	every target in above {
		u := decision with input as update(dev, target) with data.restcomm.overlay as overlay
		[u.allow, u.status, u.stage] == [false, 403, 30]
	}
	every target in [peer, below, object.union(peer, {"role": "Anything"})] {
		decision.allow with input as update(dev, target) with data.restcomm.overlay as overlay
	}

	# a role of more permissions than the caller's is above it too
	roles := {"Developer": ["RestComm:*:Accounts"], "Operator": ["RestComm:*:Accounts", "RestComm:*:Calls"]}
	not decision.allow with input as update(dev, object.union(peer, {"role": "Operator"}))
		with data.restcomm.overlay as overlay
		with data.restcomm.roles as roles
	decision.allow with input as update(object.union(dev, {"role": "Operator"}), peer)
		with data.restcomm.overlay as overlay
		with data.restcomm.roles as roles
}

test_may_modify_above_reaches_above if {
	overlay := {"t": {"may_modify_target": true}, "u": {"may_modify_above": true}}
	every target in array.concat(above, [peer, below]) {
		decision.allow with input as update(dev, target) with data.restcomm.overlay as overlay
	}

	# and only above: below and beside, may_modify_target is needed
	only_above := {"u": {"may_modify_above": true}}
	decision.allow with input as update(dev, admin) with data.restcomm.overlay as only_above
	not decision.allow with input as update(dev, peer) with data.restcomm.overlay as only_above
	not decision.allow with input as update(dev, peer) with data.restcomm.overlay as {"t": {"may_modify_target": false}, "u": {"may_modify_above": false}}

	# reach is not permission: roles stay the Administrator's, checked as any
	d := decision with input as object.union(update(dev, admin), {"request": {"role_change": true, "role": "Developer"}})
		with data.restcomm.overlay as overlay
	[d.status, d.stage] == [403, 54]
}

test_the_built_in_reach_is_unchanged if {
	decision.allow with input as update(admin, dev)
	decision.allow with input as update(admin, below)
	decision.allow with input as update(dev, dev)
	not decision.allow with input as update(dev, below)
	not decision.allow with input as update(cadm, admin)
	not decision.allow with input as update(cadm, dev)
	data.restcomm.authz.may_operate_on_target with input as req("accounts:read", admin, dev)
	not data.restcomm.authz.may_operate_on_target with input as req("accounts:read", dev, admin)
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
