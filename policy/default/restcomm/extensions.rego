# The extension points of the decision: what a policy_dir overlay may add
# to the built-in policy (policy/README.md, "Overlays").
#
# An overlay's rules live in packages directly below restcomm.overlay, such
# as restcomm.overlay.team. Every such package may define rules of these
# names, which the rules below collect across packages:
#
#   deny                   multi-value; each value {"status": 4xx, "message": "…"}
#                          ("message" optional) refuses the request once the
#                          caller is authenticated, before the status gate,
#                          served and passed-through operations alike
#   deny_operation         multi-value; each value {"status": 4xx, "message",
#                          "body", "stage"} (all but "status" optional; the
#                          stage a number or a name of stages/data.json,
#                          "permission" by default) refuses after the
#                          operation's own rules: the earliest stage wins,
#                          RestComm's own refusal on a tie
#   may_read_target        boolean; the caller also reads input.target
#                          (accounts:read), without its AuthToken
#   may_modify_target      boolean; the caller also modifies input.target
#                          (accounts:update), unless the target is above
#                          it (target_above: an ancestor, a Super Admin,
#                          an account of more permissions)
#   may_modify_above       boolean; the caller also modifies input.target
#                          when it is above it: the only grant that does
#                          (`policy test` and every reload warn of it)
#   may_operate_on_target  boolean; the name of earlier releases, which
#                          granted read and modify reach at once: now read
#                          reach only, as may_read_target (fail closed)
#   deny_super_admin       boolean; the caller is no Super Admin (in either
#                          sense) for this request
#
# The gateway refuses an overlay that defines rules of these names anywhere
# else, or any rule in a package of the built-in policy. Without an overlay
# none of them is defined, and the decision is RestComm's.
package restcomm.authz

import data.restcomm.stages

# The overlays' edge refusals, each as a decision at stage 0: the message as
# plain text (as SecurityFilter answers "Provided Account is not active"),
# or the error page when there is none. When several apply, the first in
# Rego's order of values answers. (edge_denied and operation_denied say
# cheaply whether there is any: without an overlay, most requests.)
edge_denial := sort(edge_denials)[0] if edge_denied

edge_denied if {
	some team
	data.restcomm.overlay[team].deny[_]
}

edge_denials contains refusal(object.filter(d, {"status", "message"}), stages.security_filter) if {
	some team
	some d in data.restcomm.overlay[team].deny
}

# The overlays' refusals after the operation's own rules, earliest stage
# first.
operation_denial := sort(operation_denials)[0][1] if operation_denied

operation_denied if {
	some team
	data.restcomm.overlay[team].deny_operation[_]
}

operation_denials contains [r.stage, r] if {
	some team
	some d in data.restcomm.overlay[team].deny_operation
	r := refusal(d, stages.permission)
}

# checked is the operation's decision with the overlays' refusals after it.
checked := operation_denial if {
	operation_denied
	not refused_by(operation, operation_denial.stage)
} else := operation

refused_by(d, stage) if {
	d.allow == false
	d.stage <= stage
}

# refusal is a denial from an overlay's value: its status (403 if it has
# none), its message, and its body and stage when given, or else "plain"
# for a message, "page" without one, at the stage given. A value that is
# not an object, or names no stage, is an error: the request is refused
# (fail closed).
refusal(d, stage) := deny(
	object.get(d, "status", 403),
	object.get(d, "message", ""),
	object.get(d, "body", body_for(object.get(d, "message", ""))),
	stage_number(object.get(d, "stage", stage)),
)

stage_number(s) := s if is_number(s)

stage_number(s) := stages[s] if is_string(s)

body_for("") := "page"

body_for(message) := "plain" if message != ""

# Read reach: may_read_target, or may_operate_on_target, which an overlay
# written for earlier releases may define. That one boolean used to grant
# modify reach too, so that an overlay meant to let a role look accounts up
# let it reset their passwords, its ancestors' and Super Admins' included;
# it now grants what it was mostly written for, reading, and nothing it
# was not meant to (the gateway warns of it: policy/overlay.go).
overlay_grants_read if data.restcomm.overlay[_].may_read_target == true

overlay_grants_read if data.restcomm.overlay[_].may_operate_on_target == true

# Modify reach: may_modify_target below and beside the caller, and only
# may_modify_above over an account above it (target_above, authz.rego).
may_modify_target if {
	data.restcomm.overlay[_].may_modify_target == true
	not target_above
}

may_modify_target if {
	data.restcomm.overlay[_].may_modify_above == true
	target_above
}

overlay_denies_super_admin if data.restcomm.overlay[_].deny_super_admin == true
