# Tests of the Auditor edit (policy/README.md, worked edit a).
package restcomm.auditor_test

import data.restcomm.authz.decision
import data.restcomm.permissions.permitted

admin := {"sid": "ACadmin", "role": "Administrator", "status": "active", "organization_sid": "ORG0", "ancestors": []}

# an Auditor under the top-level Administrator, with an account below it
auditor := {"sid": "ACaudit", "role": "Auditor", "status": "active", "organization_sid": "ORG0", "ancestors": [admin.sid]}

audited := {"sid": "ACaudited", "role": "Developer", "status": "active", "organization_sid": "ORG0", "ancestors": [auditor.sid, admin.sid]}

sibling := {"sid": "ACsibling", "role": "Developer", "status": "active", "organization_sid": "ORG0", "ancestors": [admin.sid]}

# a top-level Auditor: structurally a Super Admin
top := {"sid": "ACtop", "role": "Auditor", "status": "active", "organization_sid": "ORG1", "ancestors": []}

below_top := {"sid": "ACbelow", "role": "Administrator", "status": "active", "organization_sid": "ORG1", "ancestors": [top.sid]}

req(op, method, path, caller, target) := {"operation": op, "method": method, "path": path, "caller": caller, "target": target, "request": {}}

read(caller, target) := req("accounts:read", "GET", concat("", ["Accounts.json/", target.sid]), caller, target)

denied_at(d, status, stage) if {
	d.allow == false
	d.status == status
	d.stage == stage
}

test_the_auditor_role_is_data if {
	permitted("RestComm:Read:Accounts") with input as {"caller": auditor}
	not permitted("RestComm:Modify:Accounts") with input as {"caller": auditor}
	not permitted("RestComm:Create:Accounts") with input as {"caller": auditor}
}

test_auditor_reads_itself_and_its_subtree if {
	decision.allow with input as read(auditor, auditor)
	decision.allow with input as read(auditor, audited)
	decision.allow with input as read(top, below_top)
	decision.allow with input as req("accounts:list", "GET", "Accounts.json", auditor, null)
}

test_auditor_reads_nothing_outside_its_subtree if {
	denied_at(decision, 403, 30) with input as read(auditor, admin)
	denied_at(decision, 403, 30) with input as read(auditor, sibling)
	denied_at(decision, 403, 30) with input as read(top, audited)
}

test_auditor_changes_nothing if {
	every op in ["accounts:create", "accounts:update", "accounts:migrate", "organizations:create", "organizations:migrate"] {
		every caller in [auditor, top] {
			denied_at(decision, 403, 10) with input as req(op, "POST", "Accounts.json", caller, below_top)
		}
	}
}

test_auditor_passes_only_reads_to_restcomm if {
	every method in ["GET", "HEAD", "OPTIONS"] {
		decision.allow with input as req("proxy", method, "Accounts/ACaudit/Calls.json", auditor, null)
	}
	every method in ["POST", "PUT", "DELETE"] {
		denied_at(decision, 403, 10) with input as req("proxy", method, "Accounts/ACaudit/Calls.json", auditor, null)
	}
}

test_the_status_gate_still_comes_first if {
	d := decision with input as read(object.union(auditor, {"status": "suspended"}), auditor)
	d.message == "Provided Account is not active"
}

test_other_roles_are_unchanged if {
	decision.allow with input as req("accounts:update", "POST", "Accounts.json/ACaudited", admin, audited)
	decision.allow with input as req("proxy", "POST", "Accounts/ACsibling/Calls.json", sibling, null)
	denied_at(decision, 403, 30) with input as read(sibling, audited)
}
