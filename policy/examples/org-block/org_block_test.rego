package restcomm.org_block_test

import data.restcomm.authz.decision

blocked := data.restcomm.blocked.organizations[0]

admin := {"sid": "ACadmin", "role": "Administrator", "status": "active", "organization_sid": "ORG0", "ancestors": []}

member := object.union(admin, {"sid": "ACmember", "organization_sid": blocked, "ancestors": [admin.sid]})

top_member := object.union(member, {"sid": "ACtop", "ancestors": []})

req(op, method, path, caller, target) := {"operation": op, "method": method, "path": path, "caller": caller, "target": target, "request": {}}

refused(d) if d == {"allow": false, "status": 403, "message": "Organization is blocked", "body": "plain", "stage": 0}

test_every_account_of_the_organization_is_refused if {
	every caller in [member, top_member, object.union(member, {"role": "Developer"}), object.union(member, {"status": "suspended"})] {
		refused(decision) with input as req("accounts:read", "GET", "Accounts.json/ACmember", caller, member)
		refused(decision) with input as req("proxy", "GET", "Accounts/ACmember/Calls.json", caller, null)
		refused(decision) with input as req("proxy", "GET", "Logout", caller, null)
		refused(decision) with input as req("accounts:create", "POST", "Accounts.json", caller, null)
		refused(decision) with input as req("organizations:list", "GET", "Organizations", caller, null)
	}
}

test_without_credentials_nothing_changes if {
	d := decision with input as {"operation": "accounts:read", "method": "GET", "path": "Accounts.json/ACmember", "request": {}}
	d.status == 401
	decision.allow with input as {"operation": "proxy", "method": "GET", "path": "Logout", "request": {}}
}

test_others_are_not_affected_and_still_manage_the_blocked_accounts if {
	decision.allow with input as req("accounts:read", "GET", "Accounts.json/ACadmin", admin, admin)
	decision.allow with input as req("proxy", "POST", "Accounts/ACadmin/Calls.json", admin, null)
	decision.allow with input as req("accounts:read", "GET", "Accounts.json/ACmember", admin, member)
	decision.allow with input as req("accounts:update", "POST", "Accounts.json/ACmember", admin, member)
}

test_the_list_is_data if {
	decision.allow with input as req("accounts:read", "GET", "Accounts.json/ACmember", member, member)
		with data.restcomm.blocked.organizations as []
}
