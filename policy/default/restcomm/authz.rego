# The gateway's authorization policy: RestComm Connect's own rules, as its
# SecurityFilter, PermissionEvaluator and endpoints apply them.
#
# The gateway evaluates data.restcomm.authz.decision once per request.
# Input and output are described field by field in policy/README.md.
package restcomm.authz

import data.restcomm.permissions.permitted

# --- the decision, in RestComm's order -----------------------------------

decision := allowed if {
	unprotected
} else := unauthenticated if {
	not authenticated
} else := not_active if {
	not status_admits_path
} else := operation

# Paths RestComm serves without credentials (SecurityFilter UNPROTECTED_PATHS),
# matched against the decoded path below /restcomm/2012-04-24/. The character
# class [.mp4|.wav] is RestComm's own: it means "ends in one of .mp4|wav".
unprotected if regex.match(`^.*Accounts/.*/Recordings/RE.*[.mp4|.wav]$`, input.path)

unprotected if endswith(input.path, "Logout")

# The status gate (SecurityFilter.filterClosedAccounts): only active accounts
# pass, and uninitialized ones on paths that start with "Accounts" so that the
# first-login password change works.
status_admits_path if input.caller.status == "active"

status_admits_path if {
	input.caller.status == "uninitialized"
	startswith(input.path, "Accounts")
}

# --- operations ---------------------------------------------------------

default operation := {"allow": false, "status": 403, "message": "", "body": "page", "stage": 0}

# Everything the gateway does not serve itself passes the gate only; RestComm
# upstream applies its own rules.
operation := allowed if input.operation == "proxy"

# Routes that exist but not with this method (405) or not at all (404):
# RestComm authenticates first and then answers from the router.
operation := allowed if input.operation == "none"

operation := read_account if input.operation == "accounts:read"

operation := list_accounts if input.operation == "accounts:list"

operation := create_account if input.operation == "accounts:create"

operation := update_account if input.operation == "accounts:update"

operation := migrate_account if input.operation == "accounts:migrate"

operation := read_organization if input.operation == "organizations:read"

operation := super_admin_only if input.operation == "organizations:list"

operation := super_admin_only if input.operation == "organizations:create"

# GET /Accounts/{id} (AccountsEndpoint.getAccount)
read_account := forbidden if {
	not permitted("RestComm:Read:Accounts")
} else := not_found if {
	not has_target
} else := forbidden if {
	not may_operate_on_target
} else := allowed

# GET /Accounts (getAccounts); the organization filters are for Super Admins.
list_accounts := forbidden if {
	not permitted("RestComm:Read:Accounts")
} else := forbidden if {
	input.request.organization_filter
	not super_admin
} else := allowed

# POST /Accounts (putAccount). Stages place each denial among the gateway's
# input checks exactly where RestComm reports it (see policy/README.md).
create_account := forbidden if {
	not permitted("RestComm:Create:Accounts")
} else := too_deep if {
	# a caller with two ancestors is on the third level: no fourth level
	count(input.caller.ancestors) >= 2
} else := deny(403, "", "page", 81) if {
	# creating in another organization is for Super Admins
	input.request.organization_sid
	input.request.organization_sid != input.caller.organization_sid
	not super_admin
} else := deny(403, "", "page", 110) if {
	# the uninitialized default admin passes the gate but may not create
	input.caller.status != "active"
} else := allowed

# POST/PUT /Accounts/{id} (updateAccount)
update_account := forbidden if {
	not permitted("RestComm:Modify:Accounts")
} else := not_found if {
	not has_target
} else := forbidden if {
	not may_operate_on_target
} else := deny(403, "Only Administrator allowed", "page", 54) if {
	input.request.role_change
	input.caller.role != "Administrator"
} else := allowed

# POST /Accounts/migrate/{id}: the JAX-RS role SuperAdmin only, no permission.
migrate_account := forbidden if {
	not in_super_admin_role
} else := allowed

# GET /Organizations/{sid}: JAX-RS roles SuperAdmin or Administrator, then
# the permission, then own organization only unless Super Admin.
read_organization := forbidden if {
	not in_super_admin_role
	input.caller.role != "Administrator"
} else := forbidden if {
	not permitted("RestComm:Read:Organizations")
} else := deny(403, "", "page", 20) if {
	not super_admin
	input.request.organization_sid != input.caller.organization_sid
} else := deny(404, "", "page", 20) if {
	not input.organization
} else := allowed

super_admin_only := allowed if in_super_admin_role else := forbidden

# --- who is who ----------------------------------------------------------

# Absent and null mean the same: no valid credentials, no such account.
authenticated if input.caller != null

has_target if input.target != null

# Super Admin is structural (PermissionEvaluator.isSuperAdmin): a top-level,
# active account, whatever its role.
super_admin if {
	count(input.caller.ancestors) == 0
	input.caller.status == "active"
}

# @RolesAllowed("SuperAdmin") also admits a stored role literally "SuperAdmin".
in_super_admin_role if super_admin

in_super_admin_role if input.caller.role == "SuperAdmin"

# secureLevelControlAccounts: itself always; descendants only for the
# Administrator role.
may_operate_on_target if input.target.sid == input.caller.sid

may_operate_on_target if {
	input.caller.role == "Administrator"
	input.caller.sid in input.target.ancestors
}

# --- responses -----------------------------------------------------------

allowed := {"allow": true}

deny(status, message, body, stage) := {
	"allow": false,
	"status": status,
	"message": message,
	"body": body,
	"stage": stage,
}

forbidden := deny(403, "", "page", 0)

not_found := deny(404, "", "page", 0)

too_deep := deny(400, "This account is not allowed to have sub-accounts", "typed", 0)

not_active := deny(403, "Provided Account is not active", "plain", 0)

unauthenticated := {
	"allow": false,
	"status": 401,
	"message": "",
	"body": "page",
	"stage": 0,
	"headers": {"WWW-Authenticate": `Basic realm="Restcomm realm"`},
}
