# The gateway's authorization policy: RestComm Connect's own rules, as its
# SecurityFilter, PermissionEvaluator and endpoints apply them.
#
# The gateway evaluates data.restcomm.authz.decision once per request.
# Input and output are described field by field in policy/README.md. A
# policy_dir overlay plugs into the extension points of extensions.rego.
package restcomm.authz

import data.restcomm.permissions.permitted
import data.restcomm.stages

# --- the decision, in RestComm's order -----------------------------------

decision := throttled if {
	throttled_login
} else := edge_denial if {
	authenticated
	edge_denial # an overlay's deny (extensions.rego)
} else := allowed if {
	unauthenticated_passthrough
	identified
} else := anonymous if {
	unauthenticated_passthrough
} else := unauthenticated if {
	not authenticated
} else := not_active if {
	not status_admits_path
} else := checked

# RestComm's SecurityFilter skips authentication for a few paths, but only
# for the endpoints behind it that do not check again: AccountsEndpoint and
# OrganizationsEndpoint run every permission, hierarchy, @RolesAllowed and
# Super Admin check whatever the id looks like. So the exemption applies to
# passed-through requests only; a served operation always gets its rules.
unauthenticated_passthrough if {
	input.operation == "proxy"
	unprotected
}

# On an unauthenticated path the verified identity goes upstream only for a
# caller that passes every check an authenticated request of that path
# would get; anyone else is passed on anonymously.
identified if {
	authenticated
	status_admits_path
	checked.allow
}

# Failed logins (policy README, "Throttling"): counted by the gateway per
# (login, client IP) and per client IP over data.restcomm.throttle's window.
# A blocked login is refused before its credentials are looked at, so the
# right password does not lift the block.
throttled_login if input.throttle.login_ip_failures >= data.restcomm.throttle.login_ip_max_failures

throttled_login if input.throttle.ip_failures >= data.restcomm.throttle.ip_max_failures

throttled := {
	"allow": false,
	"status": 429,
	"message": "",
	"body": "page",
	"stage": stages.security_filter,
	"headers": {"Retry-After": format_int(max([1, input.throttle.retry_after]), 10)},
}

# Paths RestComm serves without credentials, matched against the decoded
# path below /restcomm/2012-04-24/ as SecurityFilter does with Java's
# String.matches: `.*Logout$` and `.*Accounts/.*/Recordings/RE.*[.mp4|.wav]`.
# Both are written with string functions, exactly equivalent and cheaper
# than a regular expression on every request. The character class
# [.mp4|.wav] is RestComm's own: one last character of . m p 4 | w a v.
unprotected if {
	endswith(input.path, "Logout")
	not java_line_terminator
}

unprotected if {
	contains(input.path, "/Recordings/RE")
	substring(input.path, count(input.path) - 1, 1) in {".", "m", "p", "4", "|", "w", "a", "v"}
	a := indexof(input.path, "Accounts/")
	a >= 0
	some r in indexof_n(input.path, "/Recordings/RE")
	r >= a + 9 # after "Accounts/", not overlapping it
	not java_line_terminator
}

# Java's "." matches no line terminator, so a path with one matches neither
# pattern.
java_line_terminator if {
	some t in ["\n", "\r", "\u0085", "\u2028", "\u2029"]
	contains(input.path, t)
}

# The status gate (SecurityFilter.filterClosedAccounts): only active accounts
# pass, and uninitialized ones on paths that start with "Accounts" so that the
# first-login password change works.
status_admits_path if input.caller.status == "active"

status_admits_path if {
	input.caller.status == "uninitialized"
	startswith(input.path, "Accounts")
}

# --- operations ---------------------------------------------------------

# An operation the policy does not know is refused at the SecurityFilter
# (a default is a constant: 0 is stages.security_filter).
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

operation := migrate_organization if input.operation == "organizations:migrate"

# Stages place each denial among the gateway's own checks where RestComm
# reports it (see policy/README.md). They have names, in one table that
# the gateway's Go code reads too (stages/data.json): the SecurityFilter
# first, then the body length, routing and content negotiation, then an
# endpoint's own steps in the order its code takes them; the gateway's
# checks of the request fill the gaps between the stages used here.

# GET /Accounts/{id} (AccountsEndpoint.getAccount)
read_account := forbidden_at(stages.permission) if {
	not permitted("RestComm:Read:Accounts")
} else := not_found_at(stages.target_not_found) if {
	not has_target
} else := forbidden_at(stages.hierarchy) if {
	not may_read_target
} else := allowed if {
	sees_auth_token
} else := allowed_without_auth_token

# GET /Accounts (getAccounts); the organization filters are for Super Admins.
# The gateway refuses a malformed query at 15 and a bad filter at 30.
list_accounts := forbidden_at(stages.permission) if {
	not permitted("RestComm:Read:Accounts")
} else := forbidden_at(stages.list_organization_filter) if {
	input.request.organization_filter
	not super_admin
} else := allowed

# POST /Accounts (putAccount and createFrom). The gateway checks the form at
# 40-100 (missing, invalid e-mail, login, Status, OrganizationSid, password
# strength, duplicate) and the column widths at 120. The new account's role
# is refused last, at 121, after its width (as update's, 56 after 55).
create_account := forbidden_at(stages.permission) if {
	not permitted("RestComm:Create:Accounts")
} else := too_deep if {
	# a caller with two ancestors is on the third level: no fourth level
	count(input.caller.ancestors) >= 2
} else := forbidden_at(stages.create_other_organization) if {
	# creating in another organization is for Super Admins
	input.request.organization_sid
	input.request.organization_sid != input.caller.organization_sid
	not super_admin
} else := forbidden_at(stages.create_caller_not_active) if {
	# the uninitialized default admin passes the gate but may not create
	input.caller.status != "active"
} else := deny(403, "Role not allowed", "page", stages.create_role_grant) if {
	# the gateway's own check (docs/restcomm-contract.md, divergences): see may_give_role
	not new_role_given
} else := allowed

# POST/PUT /Accounts/{id} (updateAccount and prepareAccountForUpdate). The
# gateway refuses a closed target at 40 and checks Status (51), FriendlyName
# (52), Password (53) and the Role's width (55); the Role itself is refused
# at 56, after its width.
update_account := forbidden_at(stages.permission) if {
	not permitted("RestComm:Modify:Accounts")
} else := not_found_at(stages.target_not_found) if {
	not has_target
} else := forbidden_at(stages.hierarchy) if {
	not may_modify_target
} else := deny(403, "Only Administrator allowed", "page", stages.update_role_change) if {
	input.request.role_change
	input.caller.role != "Administrator"
} else := deny(403, update_role_refusal, "page", stages.update_role_grant) if {
	role_sent
	update_role_refusal
} else := deny(403, "An account may not make itself uninitialized", "page", stages.update_status_self) if {
	# RestComm's status cascade ignores the descendants' own status, so an
	# account that made itself uninitialized (it can still log in on
	# Accounts paths) and then active again would reopen every account
	# below it that an ancestor had closed, none of which it may modify.
	# No flow needs it: the first-login flow goes from uninitialized, by a
	# new password (docs/restcomm-contract.md, divergences).
	input.request.status == "uninitialized"
	input.target.sid == input.caller.sid
} else := allowed

# POST /Accounts/migrate/{id}: the JAX-RS role SuperAdmin only, no
# permission. The gateway checks the Organization parameter at 20 (412) and
# refuses an account already in it at 50.
migrate_account := forbidden_at(stages.roles_allowed) if {
	not in_super_admin_role
} else := not_found_at(stages.migrate_not_found) if {
	not has_target
} else := deny(400, "", "page", stages.migrate_not_direct_child) if {
	# only a direct child of the caller moves; RestComm fails with 500 on a
	# top-level target, the gateway refuses it like any other (docs/restcomm-contract.md, divergences)
	not direct_child
} else := allowed

# GET /Organizations/{sid}: JAX-RS roles SuperAdmin or Administrator, then
# the permission; the gateway refuses a {sid} that is not SID-shaped at 15;
# then its own organization only unless Super Admin.
read_organization := forbidden_at(stages.roles_allowed) if {
	not in_super_admin_role
	input.caller.role != "Administrator"
} else := forbidden_at(stages.organization_permission) if {
	not permitted("RestComm:Read:Organizations")
} else := forbidden_at(stages.organization_other) if {
	not super_admin
	input.request.organization_sid != input.caller.organization_sid
} else := not_found_at(stages.organization_not_found) if {
	not input.organization
} else := allowed

# GET /Organizations and PUT /Organizations/{domainName}: JAX-RS role
# SuperAdmin.
super_admin_only := allowed if {
	in_super_admin_role
} else := forbidden_at(stages.roles_allowed)

# PUT /Organizations/{sid}/Migrate (migrateClientsOrganization): JAX-RS role
# SuperAdmin, the permission, then a structural Super Admin only; the
# gateway refuses a {sid} that is not SID-shaped at 15.
migrate_organization := forbidden_at(stages.roles_allowed) if {
	not in_super_admin_role
} else := forbidden_at(stages.organization_permission) if {
	not permitted("RestComm:Read:Organizations")
} else := forbidden_at(stages.organization_super_admin) if {
	not super_admin
} else := not_found_at(stages.organization_not_found) if {
	not input.organization
} else := allowed

# --- who is who ----------------------------------------------------------

# Absent and null mean the same: no valid credentials, no such account.
authenticated if input.caller != null

has_target if input.target != null

# Super Admin is structural (PermissionEvaluator.isSuperAdmin): a top-level,
# active account, whatever its role, unless an overlay's deny_super_admin
# says otherwise for this request.
super_admin if {
	count(input.caller.ancestors) == 0
	input.caller.status == "active"
	not overlay_denies_super_admin
}

# @RolesAllowed("SuperAdmin") also admits a stored role literally "SuperAdmin"
# (AccountPrincipal: the stored role text is a JAX-RS role). RestComm lets any
# Administrator store that text, on itself or a child: an escalation the
# gateway does not copy (docs/restcomm-contract.md, divergences). It keeps admitting the stored role,
# as RestComm's operators may rely on it, because through the gateway only a
# structural Super Admin can give it now (may_give_role); an account that
# holds it from before (a drop-in of RestComm's data) keeps it, and is worth
# a look (policy/README.md, "Roles and permissions"). Any other role text
# grants nothing by itself: permitted() holds only for Administrator and the
# roles of data.restcomm.roles, reach only for Administrator.
in_super_admin_role if super_admin

in_super_admin_role if {
	input.caller.role == "SuperAdmin"
	not overlay_denies_super_admin
}

# --- reach: which accounts a caller operates on ---------------------------

# secureLevelControlAccounts: itself always; descendants only for the
# Administrator role. RestComm has one reach for reading and updating; the
# gateway's overlays grant each apart (extensions.rego): modify reach is the
# power to become the target (a new password logs in as it), read reach is
# not (the AuthToken, a credential, is not shown: sees_auth_token).
may_modify_target if input.target.sid == input.caller.sid

may_modify_target if {
	input.caller.role == "Administrator"
	input.caller.sid in input.target.ancestors
}

# Whoever may modify an account may read it; an overlay adds read reach.
may_read_target if may_modify_target

may_read_target if overlay_grants_read

# The name of earlier releases, kept for the rules that use it: read reach.
may_operate_on_target if may_read_target

# An account above the caller, which an overlay's modify reach covers only
# through may_modify_above: an ancestor of the caller; a Super Admin (a
# top-level account in any status, as a password set on an uninitialized
# one activates it; or a stored role SuperAdmin); or an account whose role
# holds a permission the caller's does not (its password would give the
# caller more, as a role may not: may_give_role).
target_above if input.target.sid in input.caller.ancestors

target_above if count(input.target.ancestors) == 0

target_above if input.target.role == "SuperAdmin"

target_above if {
	input.target.role == "Administrator"
	input.caller.role != "Administrator"
}

target_above if {
	some p in role_permissions(input.target.role)
	not permitted(p)
}

# The AuthToken is a credential (RestComm accepts it as the password): an
# account read is shown with it to the account itself, and to a caller that
# may change its password anyway; to a reader only, without it.
sees_auth_token if input.target.sid == input.caller.sid

sees_auth_token if {
	may_modify_target
	permitted("RestComm:Modify:Accounts")
}

# --- roles a caller may give ----------------------------------------------

# RestComm stores any role text an Administrator sends (AccountsEndpoint),
# so that an Administrator sub-account made itself or its child a Super
# Admin with the role text "SuperAdmin". The gateway gives a role only when
# it is one the policy knows, and carries nothing the caller lacks
# (docs/restcomm-contract.md, divergences):
#
# - Administrator holds every permission: only an Administrator gives it;
# - SuperAdmin passes @RolesAllowed("SuperAdmin"): only a structural Super
#   Admin gives it (and the permissions an overlay's roles data gives it);
# - a role of data.restcomm.roles: every permission of it implied by the
#   caller's own (Shiro's implies, as permitted checks);
# - any other text (unknown, empty, another case) is no role to give.
may_give_role("Administrator") if input.caller.role == "Administrator"

may_give_role("SuperAdmin") if {
	super_admin
	holds_all(role_permissions("SuperAdmin"))
}

may_give_role(role) if {
	not role in {"Administrator", "SuperAdmin"}
	holds_all(data.restcomm.roles[role])
}

role_permissions(role) := permissions if {
	permissions := data.restcomm.roles[role]
} else := []

holds_all(permissions) if {
	is_array(permissions)
	every p in permissions {
		permitted(p)
	}
}

# The new account's role, as createFrom takes it: the Role sent, from an
# Administrator only; otherwise, or when none is sent, the caller's own.
new_account_role := input.request.role if {
	input.caller.role == "Administrator"
	is_string(input.request.role)
} else := input.caller.role

role_sent if input.request.role_change

role_sent if is_string(input.request.role)

# Why an update may not store the Role it sends, when it may not: no account
# changes its own role (sending it again changes nothing, as RestComm's
# Admin UI does with the whole form), and another's only to a role the
# caller may give.
update_role_refusal := "An account may not change its own role" if {
	input.target.sid == input.caller.sid
	not input.request.role == input.caller.role
} else := "Role not allowed" if {
	input.target.sid != input.caller.sid
	not sent_role_given
}

# (A call with an undefined argument is undefined, and so is its negation:
# a Role sent without its text is refused through a rule of its own.)
sent_role_given if may_give_role(input.request.role)

new_role_given if may_give_role(new_account_role)

# PermissionEvaluator.isDirectChildOfAccount: the target's parent is the
# caller.
direct_child if input.target.ancestors[0] == input.caller.sid

# --- responses -----------------------------------------------------------

allowed := {"allow": true}

# allowed, for an account read, without the account's AuthToken.
allowed_without_auth_token := {"allow": true, "hide_auth_token": true}

# allowed, without the caller's identity: nothing of the caller is sent
# upstream or logged as the request's user.
anonymous := {"allow": true, "anonymous": true}

deny(status, message, body, stage) := {
	"allow": false,
	"status": status,
	"message": message,
	"body": body,
	"stage": stage,
}

forbidden := deny(403, "", "page", stages.security_filter)

forbidden_at(stage) := deny(403, "", "page", stage)

not_found := deny(404, "", "page", stages.security_filter)

not_found_at(stage) := deny(404, "", "page", stage)

too_deep := deny(400, "This account is not allowed to have sub-accounts", "typed", stages.create_depth)

not_active := deny(403, "Provided Account is not active", "plain", stages.security_filter)

unauthenticated := {
	"allow": false,
	"status": 401,
	"message": "",
	"body": "page",
	"stage": stages.security_filter,
	"headers": {"WWW-Authenticate": `Basic realm="Restcomm realm"`},
}
