# Your overlay of the gateway's built-in policy, which is always loaded
# (`restcomm-gateway policy show-builtin` prints it). An overlay refuses
# more, or grants what an extension point lets it, through the rules of a
# package directly below restcomm.overlay; its data is merged over the
# built-in's (policy/README.md, "Overlays").
#
# Check an edit with `restcomm-gateway policy test <this directory>`: the
# gateway puts the directory in force, within 2 seconds of an edit, only
# when it compiles and every test passes (the built-in's and yours).
package restcomm.overlay.team

# Requests from the networks of restcomm/team/data.json (CIDR blocks, none
# at first) are refused once the caller is authenticated, before anything
# else: 403, with the message as plain text.
deny contains {"status": 403, "message": "Network is blocked"} if {
	some cidr in data.restcomm.team.blocked_networks
	net.cidr_contains(cidr, input.client_ip)
}

# The other extension points, to uncomment and adapt:
#
# A refusal after the operation's own rules, where RestComm checks
# permissions (stage 10): here, a role that only reads.
#
#   deny_operation contains {"status": 403, "stage": 10} if {
#   	input.caller.role == "ReadOnly"
#   	not input.method in {"GET", "HEAD"}
#   }
#
# More reach, to read: a role that reads its descendants, as an
# Administrator does (answered without their AuthToken, and no update).
#
#   may_read_target if {
#   	input.caller.role == "Auditor"
#   	input.caller.sid in input.target.ancestors
#   }
#
# More reach, to modify (update an account, set its password: become it):
# may_modify_target, which never covers an account above the caller (its
# ancestors, Super Admins, accounts whose role holds more); only
# may_modify_above does, and the gateway warns of it.
#
#   may_modify_target if {
#   	input.caller.role == "Support"
#   	input.target.organization_sid == input.caller.organization_sid
#   }
#
# A condition on being a Super Admin, here the client's network.
#
#   deny_super_admin if not net.cidr_contains("10.0.0.0/8", input.client_ip)
#
# Roles and the failed-login thresholds are data: restcomm/roles/data.json
# adds or overrides roles ({"ReadOnly": ["RestComm:Read"]}), and
# restcomm/throttle/data.json thresholds ({"login_ip_max_failures": 5}).
