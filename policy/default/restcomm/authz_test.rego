# Tests of the shipped policy against RestComm's behaviour (its request → response checks).
package restcomm.authz_test

import data.restcomm.authz.decision

admin := {"sid": "ACae6e420f425248d6a26948c17a9e2acf", "role": "Administrator", "status": "active", "organization_sid": "ORG0", "ancestors": []}

dev := {"sid": "ACdev", "role": "Developer", "status": "active", "organization_sid": "ORG0", "ancestors": [admin.sid]}

cadm := {"sid": "ACcadm", "role": "Administrator", "status": "active", "organization_sid": "ORG0", "ancestors": [admin.sid]}

grand := {"sid": "ACgrand", "role": "Administrator", "status": "active", "organization_sid": "ORG0", "ancestors": [dev.sid, admin.sid]}

guest := {"sid": "ACguest", "role": "Guest", "status": "active", "organization_sid": "ORG0", "ancestors": []}

topdev := {"sid": "ACtopdev", "role": "Developer", "status": "active", "organization_sid": "ORG0", "ancestors": []}

uninit_admin := object.union(admin, {"status": "uninitialized"})

req(op, path, caller, target) := {"operation": op, "method": "GET", "path": path, "caller": caller, "target": target, "request": {}}

read(caller, target) := req("accounts:read", concat("", ["Accounts.json/", target.sid]), caller, target)

allows(d) if d.allow == true

denies(d, status) if {
	d.allow == false
	d.status == status
}

# --- authentication and the status gate (rows 1, 9-13) -------------------

test_no_credentials_is_401 if {
	d := decision with input as {"operation": "accounts:read", "method": "GET", "path": "Accounts/ACx", "request": {}}
	denies(d, 401)
	d.headers["WWW-Authenticate"] == `Basic realm="Restcomm realm"`
}

test_suspended_and_closed_are_not_active if {
	every s in ["suspended", "closed", "inactive"] {
		d := decision with input as read(object.union(dev, {"status": s}), dev)
		denies(d, 403)
		d.message == "Provided Account is not active"
		d.body == "plain"
	}
}

test_uninitialized_reads_accounts if {
	u := object.union(dev, {"status": "uninitialized"})
	allows(decision) with input as read(u, u)
}

test_uninitialized_passes_gate_on_accounts_subresources if {
	u := object.union(dev, {"status": "uninitialized"})
	allows(decision) with input as req("proxy", "Accounts.json/ACdev/Calls.json", u, null)
}

test_uninitialized_refused_outside_accounts if {
	u := object.union(dev, {"status": "uninitialized"})
	d := decision with input as req("proxy", "Organizations.json/ORG0", u, null)
	denies(d, 403)
	d.message == "Provided Account is not active"
}

test_unprotected_paths_need_no_credentials if {
	allows(decision) with input as {"operation": "proxy", "method": "GET", "path": "Logout", "request": {}}
	allows(decision) with input as {"operation": "proxy", "method": "GET", "path": "Accounts/ACx/Recordings/RE123.wav", "request": {}}
	allows(decision) with input as {"operation": "proxy", "method": "GET", "path": "Accounts/ACx/Recordings/RE123.mp4", "request": {}}
}

test_recording_metadata_needs_credentials if {
	denies(decision, 401) with input as {"operation": "proxy", "method": "GET", "path": "Accounts/ACx/Recordings/RE123.json", "request": {}}
}

anonymous(path) := {"operation": "proxy", "method": "GET", "path": path, "request": {}}

# The unprotected paths are Java's String.matches of `.*Logout$` and
# `.*Accounts/.*/Recordings/RE.*[.mp4|.wav]`, character for character.
test_unprotected_paths_match_as_java_does if {
	every path in [
		"Logout", "Accounts.json/ACx/Logout",
		"Accounts//Recordings/RE4", # both .* empty; 4 is in the class
		"Accounts/x/Recordings/RE|", "Accounts/x/Recordings/RE.",
		"xAccounts/a/b/Recordings/RE/Recordings/x.wav", # a later "/Recordings/RE" is not needed
		"Accounts/a/Recordings/REx/Recordings/RE1.mp4",
		"Accounts/ü/Recordings/RE1.wav",
	] {
		allows(decision) with input as anonymous(path)
	}
	every path in [
		"Logouts", "logout", "Accounts/x/Recordings/RE", # nothing after RE for the class
		"Accounts/x/Recordings/REx", "Accounts/x/Recordings/RE1.mp3",
		"Accounts/Recordings/RE1.wav", # "Accounts/" and "/Recordings" would share the "/"
		"Recordings/RE1.wav/Accounts/x.wav", "Accounts/x/recordings/RE1.wav",
		"Accounts/x/Recordings/re1.wav",
		# Java's "." matches no line terminator
		"Accounts/x/Recordings/RE1\n.wav", "Accounts/x\r/Recordings/RE1.wav",
		"Accounts/x/Recordings/RE1\u0085.wav", "Accounts/\u2028/Recordings/RE1.wav",
		"Accounts/x/Recordings/RE\u20291.wav", "x\nLogout", "x\u2028Logout",
	] {
		denies(decision, 401) with input as anonymous(path)
	}
}

# A served operation gets every one of its rules whatever its id looks
# like: the unprotected paths are unprotected for pass-through only.
served_ops := [
	"accounts:read", "accounts:list", "accounts:create", "accounts:update", "accounts:migrate",
	"organizations:read", "organizations:list", "organizations:create", "organizations:migrate", "none",
]

unprotected_spellings := ["Accounts.json/a1Logout", "Accounts/ACx/Recordings/RE1.wav", "Organizations.json/evilLogout", "Accounts/migrate/xLogout"]

test_unprotected_spelling_never_exempts_a_served_operation if {
	every op in served_ops {
		every path in unprotected_spellings {
			denies(decision, 401) with input as {"operation": op, "method": "PUT", "path": path, "request": {}}
			d := decision with input as req(op, path, object.union(dev, {"status": "closed"}), dev)
			denies(d, 403)
			d.message == "Provided Account is not active"
		}
	}
}

test_unprotected_spelling_decides_as_the_plain_one if {
	every op in served_ops {
		every caller in [admin, dev, cadm, grand, guest, topdev, uninit_admin, object.union(dev, {"status": "suspended"})] {
			every target in [dev, grand] {
				every prefix in ["Accounts.json/", "Organizations.json/"] {
					plain := decision with input as object.union(req(op, concat("", [prefix, target.sid]), caller, target), {"request": {"role_change": true, "role": "Developer"}})
					every id in ["a1Logout", "x/Recordings/RE1.wav"] {
						spelled := decision with input as object.union(req(op, concat("", [prefix, id]), caller, target), {"request": {"role_change": true, "role": "Developer"}})
						spelled == plain
					}
				}
			}
		}
	}
}

test_developer_cannot_raise_its_role_through_a_logout_name if {
	d := decision with input as {"operation": "accounts:update", "method": "PUT", "path": "Accounts.json/a1Logout", "caller": dev, "target": dev, "request": {"role_change": true, "role": "Administrator"}}
	denies(d, 403)
	d.message == "Only Administrator allowed"
}

test_other_tree_cannot_update_through_a_logout_name if {
	denies(decision, 403) with input as req("accounts:update", "Accounts.json/a1Logout", topdev, dev)
}

test_organization_create_through_a_logout_name_is_super_admin_only if {
	denies(decision, 403) with input as req("organizations:create", "Organizations.json/evilLogout", dev, null)
	allows(decision) with input as req("organizations:create", "Organizations.json/evilLogout", admin, null)
}

# Identity goes upstream on an unprotected path only for a caller that
# passes the gate; anyone else is passed on anonymously.
test_unprotected_passthrough_identity_only_past_the_gate if {
	d := decision with input as req("proxy", "Accounts.json/ACdev/Calls/xLogout", dev, null)
	allows(d)
	not d.anonymous
	every s in ["closed", "suspended", "inactive"] {
		c := decision with input as req("proxy", "Accounts.json/ACdev/Calls/xLogout", object.union(dev, {"status": s}), null)
		allows(c)
		c.anonymous == true
	}
	a := decision with input as anonymous("Accounts/ACx/Recordings/RE1.wav")
	a.anonymous == true
	u := decision with input as req("proxy", "Organizations.json/xLogout", uninit_admin, null)
	u.anonymous == true
}

# --- throttling of failed logins -------------------------------------------

throttled(caller, login_ip, ip) := object.union(read(caller, caller), {"throttle": {"login_ip_failures": login_ip, "ip_failures": ip, "retry_after": 42}})

# The tests give the thresholds themselves, so that a team's own values in
# throttle/data.json do not fail them.
limits := {"window_seconds": 300, "login_ip_max_failures": 10, "ip_max_failures": 100}

test_throttle_blocks_at_the_thresholds if {
	allows(decision) with input as throttled(dev, 9, 99) with data.restcomm.throttle as limits
	every counts in [[10, 0], [0, 100], [11, 120]] {
		d := decision with input as throttled(dev, counts[0], counts[1]) with data.restcomm.throttle as limits
		denies(d, 429)
		d.headers["Retry-After"] == "42"
	}
}

test_throttle_is_not_lifted_by_the_right_password if {
	denies(decision, 429) with input as throttled(admin, 10, 10) with data.restcomm.throttle as limits
	denies(decision, 429) with input as object.union(anonymous("Logout"), {"throttle": {"login_ip_failures": 10, "ip_failures": 10, "retry_after": 0}}) with data.restcomm.throttle as limits
}

test_throttle_thresholds_are_data if {
	allows(decision) with input as throttled(dev, 10, 0) with data.restcomm.throttle as object.union(limits, {"login_ip_max_failures": 11})
	denies(decision, 429) with input as throttled(dev, 3, 0) with data.restcomm.throttle as object.union(limits, {"login_ip_max_failures": 3})
}

test_throttle_retry_after_is_at_least_a_second if {
	d := decision with input as object.union(read(dev, dev), {"throttle": {"login_ip_failures": 10, "ip_failures": 0, "retry_after": 0}}) with data.restcomm.throttle as limits
	d.headers["Retry-After"] == "1"
}

test_no_throttle_without_its_data if {
	allows(decision) with input as throttled(dev, 1000, 1000) with data.restcomm.throttle as {}
}

# --- GET one (rows 27-35) --------------------------------------------------

test_admin_reads_self_child_and_grandchild if {
	allows(decision) with input as read(admin, admin)
	allows(decision) with input as read(admin, dev)
	allows(decision) with input as read(admin, grand)
}

test_child_admin_cannot_read_parent_or_sibling if {
	denies(decision, 403) with input as read(cadm, admin)
	denies(decision, 403) with input as read(cadm, dev)
	allows(decision) with input as read(cadm, cadm)
}

test_developer_reads_only_itself if {
	denies(decision, 403) with input as read(dev, grand)
	allows(decision) with input as read(dev, dev)
}

test_role_without_permissions_reads_nothing if {
	denies(decision, 403) with input as read(guest, guest)
}

test_unrelated_top_level_is_forbidden if {
	denies(decision, 403) with input as read(admin, topdev)
}

test_missing_target_is_404_after_permission if {
	denies(decision, 404) with input as req("accounts:read", "Accounts.json/ACnone", admin, null)
	denies(decision, 403) with input as req("accounts:read", "Accounts.json/ACnone", guest, null)
}

# --- list (rows 37, 41-43, 48) ---------------------------------------------

test_list if {
	allows(decision) with input as req("accounts:list", "Accounts.json", dev, null)
	denies(decision, 403) with input as req("accounts:list", "Accounts.json", guest, null)
}

filtered(c) := object.union(req("accounts:list", "Accounts.json", c, null), {"request": {"organization_filter": true}})

test_organization_filter_is_for_super_admins if {
	allows(decision) with input as filtered(admin)
	allows(decision) with input as filtered(topdev)
	denies(decision, 403) with input as filtered(cadm)
	denies(decision, 403) with input as filtered(uninit_admin)
}

# --- create (rows 65-68, 73) ---------------------------------------------

create(c, r) := object.union(req("accounts:create", "Accounts.json", c, null), {"method": "POST", "request": r})

test_create if {
	allows(decision) with input as create(admin, {})
	allows(decision) with input as create(dev, {})
	denies(decision, 403) with input as create(guest, {})
}

test_third_level_cannot_create if {
	d := decision with input as create(grand, {})
	denies(d, 400)
	d.body == "typed"
	d.message == "This account is not allowed to have sub-accounts"
}

test_other_organization_is_for_super_admins if {
	d := decision with input as create(dev, {"organization_sid": "ORG1"})
	denies(d, 403)
	d.stage == 81
	allows(decision) with input as create(dev, {"organization_sid": "ORG0"})
	allows(decision) with input as create(admin, {"organization_sid": "ORG1"})
}

test_uninitialized_admin_cannot_create if {
	d := decision with input as create(uninit_admin, {})
	denies(d, 403)
	d.stage == 110
}

# --- update (rows 81-84, 95) -----------------------------------------------

update(c, t, r) := object.union(req("accounts:update", concat("", ["Accounts.json/", t.sid]), c, t), {"method": "PUT", "request": r})

test_update_hierarchy if {
	allows(decision) with input as update(admin, dev, {})
	denies(decision, 403) with input as update(cadm, admin, {})
	denies(decision, 403) with input as update(cadm, dev, {})
	allows(decision) with input as update(dev, dev, {})
}

test_only_administrators_change_roles if {
	d := decision with input as update(dev, dev, {"role_change": true, "role": "Developer"})
	denies(d, 403)
	d.message == "Only Administrator allowed"
	d.stage == 54
	allows(decision) with input as role_update(admin, dev, "Administrator")
	allows(decision) with input as role_update(cadm, cadm, "Administrator")
}

# --- roles given by an update or a create (docs/restcomm-contract.md, divergences) -------------------
#
# RestComm stores any role text an Administrator sends, and a stored
# "SuperAdmin" passes @RolesAllowed("SuperAdmin"): an Administrator
# sub-account made itself or its child a Super Admin. The gateway does not.

role_update(c, t, role) := update(c, t, {"role_change": true, "role": role})

cchild := {"sid": "ACcchild", "role": "Developer", "status": "active", "organization_sid": "ORG0", "ancestors": [cadm.sid, admin.sid]}

refused_role(d, stage, message) if [d.allow, d.status, d.stage, d.message] == [false, 403, stage, message]

test_no_account_changes_its_own_role if {
	every r in [[cadm, "SuperAdmin"], [cadm, "Developer"], [admin, "Developer"], [admin, "SuperAdmin"], [grand, "Anything"]] {
		d := decision with input as role_update(r[0], r[0], r[1])
		refused_role(d, 56, "An account may not change its own role")
	}

	# sending its own role again changes nothing (an Admin UI sends the whole form)
	allows(decision) with input as role_update(admin, admin, "Administrator")
	allows(decision) with input as role_update(cadm, cadm, "Administrator")
}

test_a_sub_account_administrator_gives_no_super_admin if {
	d := decision with input as role_update(cadm, cchild, "SuperAdmin")
	refused_role(d, 56, "Role not allowed")
	c := decision with input as create(cadm, {"role": "SuperAdmin"})
	refused_role(c, 121, "Role not allowed")

	# nor a top-level one that is no Super Admin: not active, or an overlay's deny_super_admin
	refused_role(decision, 56, "Role not allowed") with input as role_update(uninit_admin, cadm, "SuperAdmin")
	refused_role(decision, 56, "Role not allowed") with input as role_update(admin, cadm, "SuperAdmin")
		with data.restcomm.overlay as {"t": {"deny_super_admin": true}}
}

test_a_structural_super_admin_gives_super_admin if {
	allows(decision) with input as role_update(admin, cadm, "SuperAdmin")
	allows(decision) with input as role_update(admin, grand, "SuperAdmin")
	allows(decision) with input as create(admin, {"role": "SuperAdmin"})
}

test_only_roles_the_policy_knows_are_given if {
	every role in ["Anything", "", "administrator", "Administrator ", "superadmin", "Guest", "developer"] {
		refused_role(decision, 56, "Role not allowed") with input as role_update(admin, cadm, role)
		refused_role(decision, 121, "Role not allowed") with input as create(admin, {"role": role})
	}
	every role in ["Administrator", "Developer"] {
		allows(decision) with input as role_update(admin, dev, role)
		allows(decision) with input as role_update(cadm, cchild, role)
		allows(decision) with input as create(cadm, {"role": role})
	}

	# a role of the overlay's data is a role the policy knows
	allows(decision) with input as role_update(admin, dev, "Auditor") with data.restcomm.roles.Auditor as ["RestComm:Read:Accounts"]
	allows(decision) with input as create(cadm, {"role": "Auditor"}) with data.restcomm.roles.Auditor as []
}

test_a_role_carries_nothing_the_caller_lacks if {
	roles := {"Developer": ["RestComm:*:Accounts", "RestComm:Read:Calls"], "Operator": ["RestComm:Read,Modify:Accounts"], "Wide": ["RestComm:*"], "Odd": "RestComm:*"}
	every r in ["Developer", "Operator"] {
		data.restcomm.authz.may_give_role(r) with input as {"caller": dev} with data.restcomm.roles as roles
	}
	every r in ["Wide", "Administrator", "SuperAdmin", "Odd", "Nothing"] {
		not data.restcomm.authz.may_give_role(r) with input as {"caller": dev} with data.restcomm.roles as roles
	}
	every r in ["Wide", "Administrator", "Developer", "Operator"] {
		data.restcomm.authz.may_give_role(r) with input as {"caller": cadm} with data.restcomm.roles as roles
	}
	not data.restcomm.authz.may_give_role("SuperAdmin") with input as {"caller": cadm} with data.restcomm.roles as roles

	# a SuperAdmin the overlay's roles give permissions carries them too
	data.restcomm.authz.may_give_role("SuperAdmin") with input as {"caller": admin}
	not data.restcomm.authz.may_give_role("SuperAdmin") with input as {"caller": topdev}
		with data.restcomm.roles as object.union(roles, {"SuperAdmin": ["RestComm:*"]})
	data.restcomm.authz.may_give_role("SuperAdmin") with input as {"caller": topdev}
}

test_a_create_role_is_the_administrators_only if {
	# RestComm ignores another caller's Role: the new account gets the caller's own (row 65)
	allows(decision) with input as create(dev, {"role": "Administrator"})
	allows(decision) with input as create(dev, {"role": "SuperAdmin"})
	allows(decision) with input as create(dev, {"role": "Anything"})

	# and that role is checked as a given one: a stored SuperAdmin is not passed on below
	stored := object.union(cadm, {"role": "SuperAdmin"})
	with_permissions := {"SuperAdmin": ["RestComm:*:Accounts"]}
	refused_role(decision, 121, "Role not allowed") with input as create(stored, {}) with data.restcomm.roles as with_permissions
	allows(decision) with input as create(object.union(admin, {"role": "SuperAdmin"}), {}) with data.restcomm.roles as with_permissions
}

test_a_role_sent_without_its_text_is_refused if {
	refused_role(decision, 56, "Role not allowed") with input as update(admin, dev, {"role_change": true})
	refused_role(decision, 56, "An account may not change its own role") with input as update(cadm, cadm, {"role_change": true})
	refused_role(decision, 56, "Role not allowed") with input as update(admin, dev, {"role": "Anything"})
}

# A stored role the role table does not know grants nothing: no permission,
# no reach; a stored SuperAdmin keeps @RolesAllowed("SuperAdmin") only (only
# a structural Super Admin gives it now).
test_a_stored_role_unknown_to_the_table_grants_nothing if {
	every role in ["Anything", "", "administrator", "Guest", "SuperAdmin"] {
		c := object.union(cadm, {"role": role})
		every i in [read(c, c), read(c, cchild), update(c, cchild, {}), create(c, {}), req("accounts:list", "Accounts.json", c, null), org(c, "ORG0", true)] {
			d := decision with input as i
			refused_role(d, d.stage, "")
			d.stage in {10, 12}
		}
	}
	every role in ["Anything", "", "administrator", "Guest"] {
		refused_role(decision, 10, "") with input as migrate(object.union(cadm, {"role": role}), cchild)
	}
	allows(decision) with input as migrate(object.union(cadm, {"role": "SuperAdmin"}), cchild)
}

test_update_missing_target if {
	denies(decision, 404) with input as req("accounts:update", "Accounts.json/x", admin, null)
}

# --- migrate (rows 109-111) -------------------------------------------------

migrate(c, t) := req("accounts:migrate", "Accounts.json/migrate/x", c, t)

test_migrate_is_for_the_super_admin_role if {
	allows(decision) with input as migrate(admin, dev)
	denies(decision, 403) with input as migrate(dev, dev)
	denies(decision, 403) with input as migrate(cadm, dev)
	denies(decision, 403) with input as migrate(uninit_admin, dev)
	d := decision with input as migrate(cadm, dev)
	d.stage == 10
}

# Row 111: no permission is checked, so a top-level Guest passes the role
# check and is refused only because DEV is not its child.
test_migrate_checks_no_permission if {
	d := decision with input as migrate(guest, dev)
	denies(d, 400)
	d.stage == 40
	d.body == "page"
}

# A stored role literally "SuperAdmin" passes @RolesAllowed, as in RestComm.
test_migrate_stored_super_admin_role if {
	stored_role := object.union(cadm, {"role": "SuperAdmin"})
	child := object.union(grand, {"ancestors": [cadm.sid, admin.sid]})
	allows(decision) with input as migrate(stored_role, child)
}

# Rows 106, 107 and 112: a missing target is 404 before the direct-child
# test; a grandchild and a top-level account are both refused with 400.
test_migrate_only_direct_children if {
	d := decision with input as migrate(admin, null)
	denies(d, 404)
	d.stage == 30
	denies(decision, 400) with input as migrate(admin, grand)
	denies(decision, 400) with input as migrate(admin, admin)
	denies(decision, 400) with input as migrate(admin, topdev)
}

# --- organizations ---------------------------------------------------------

org(c, sid, exists) := object.union(req("organizations:read", "Organizations/x", c, null), {"organization": exists, "request": {"organization_sid": sid}})

test_organizations if {
	allows(decision) with input as org(admin, "ORG1", true)
	allows(decision) with input as org(cadm, "ORG0", true)
	denies(decision, 403) with input as org(cadm, "ORG1", true)
	denies(decision, 404) with input as org(admin, "ORGX", false)
	denies(decision, 403) with input as org(dev, "ORG0", true)
	allows(decision) with input as req("organizations:list", "Organizations", admin, null)
	denies(decision, 403) with input as req("organizations:list", "Organizations", cadm, null)
}

test_organization_read_stages if {
	d := decision with input as org(dev, "ORG0", true)
	d.stage == 10
	stored_role := object.union(cadm, {"role": "SuperAdmin"})
	d2 := decision with input as org(stored_role, "ORG0", true)
	denies(d2, 403)
	d2.stage == 12
	d3 := decision with input as org(cadm, "ORG1", false)
	denies(d3, 403)
	d3.stage == 20
	d4 := decision with input as org(admin, "ORGX", false)
	d4.stage == 25
}

test_top_level_developer_may_not_read_organizations if {
	# a Super Admin by structure, but without RestComm:Read:Organizations
	d := decision with input as org(topdev, "ORG0", true)
	denies(d, 403)
	d.stage == 12
}

test_organization_list_and_create_are_for_the_super_admin_role if {
	every op in ["organizations:list", "organizations:create"] {
		allows(decision) with input as req(op, "Organizations", admin, null)
		allows(decision) with input as req(op, "Organizations", topdev, null)
		d := decision with input as req(op, "Organizations", cadm, null)
		denies(d, 403)
		d.stage == 10
		denies(decision, 403) with input as req(op, "Organizations", uninit_admin, null)
	}
}

org_migrate(c, sid, exists) := object.union(req("organizations:migrate", "Organizations/x/Migrate", c, null), {"organization": exists, "request": {"organization_sid": sid}})

test_organization_client_migration if {
	allows(decision) with input as org_migrate(admin, "ORG1", true)
	d := decision with input as org_migrate(cadm, "ORG0", true)
	denies(d, 403)
	d.stage == 10
	stored_role := object.union(cadm, {"role": "SuperAdmin"})
	d2 := decision with input as org_migrate(stored_role, "ORG0", true)
	d2.stage == 12
	d3 := decision with input as org_migrate(topdev, "ORG0", true)
	d3.stage == 12
	d4 := decision with input as org_migrate(admin, "ORGX", false)
	denies(d4, 404)
	d4.stage == 25
}

# Endpoint denials come after the gateway's body length, Accept and routing
# checks (stages 1-3), where RestComm reports them.
test_endpoint_denials_follow_routing if {
	r1 := decision with input as read(guest, guest)
	r1.stage == 10
	r2 := decision with input as req("accounts:read", "Accounts.json/ACnone", admin, null)
	r2.stage == 20
	r3 := decision with input as read(cadm, admin)
	r3.stage == 30
	l := decision with input as req("accounts:list", "Accounts.json", guest, null)
	l.stage == 10
	f := decision with input as filtered(cadm)
	f.stage == 20
	c := decision with input as create(guest, {})
	c.stage == 10
	deep := decision with input as create(grand, {})
	deep.stage == 20
	u1 := decision with input as update(guest, guest, {})
	u1.stage == 10
	u2 := decision with input as req("accounts:update", "Accounts.json/x", admin, null)
	u2.stage == 20
	u3 := decision with input as update(cadm, admin, {})
	u3.stage == 30
}

test_unknown_operation_is_forbidden if {
	denies(decision, 403) with input as req("accounts:delete", "Accounts/x", admin, admin)
}

test_no_account_makes_itself_uninitialized if {
	self := {"sid": "ACdev", "role": "Developer", "status": "active", "organization_sid": "ORx", "ancestors": ["ACadmin"]}
	d := decision with input as {
		"operation": "accounts:update", "method": "POST", "path": "Accounts/ACdev",
		"caller": self, "target": self, "request": {"status": "uninitialized"},
	}
	d.allow == false
	d.status == 403
	d.stage == data.restcomm.stages.update_status_self
}

test_an_account_still_closes_itself if {
	self := {"sid": "ACdev", "role": "Developer", "status": "active", "organization_sid": "ORx", "ancestors": ["ACadmin"]}
	decision.allow with input as {
		"operation": "accounts:update", "method": "POST", "path": "Accounts/ACdev",
		"caller": self, "target": self, "request": {"status": "closed"},
	}
}
