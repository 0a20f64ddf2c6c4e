# Role permissions in RestComm's terms: Shiro wildcard permissions
# "Domain:Action:Target", as restcomm.xml <security-roles> lists them.
# The roles themselves are data (data.restcomm.roles, roles/data.json).
package restcomm.permissions

# permitted(p) holds when the caller's role grants permission p.
# Administrator holds every permission without consulting the roles
# (PermissionEvaluator.checkPermission); an unknown or empty role holds none.
permitted(_) if input.caller.role == "Administrator"

permitted(needed) if {
	some granted in data.restcomm.roles[input.caller.role]
	implies(granted, needed)
}

# implies is Shiro's WildcardPermission.implies: parts separated by ":",
# sub-parts by ",", case-insensitive, trimmed; "*" matches anything; a
# granted permission with fewer parts implies every value of the missing
# parts, and extra granted parts must be wildcards.
#
# Parts are compared as text first and split into sub-parts only when that
# does not settle it: equal parts imply each other.
implies(granted, needed) if {
	g := split(lower(granted), ":")
	n := split(lower(needed), ":")
	every i, np in n {
		part_implies(g, i, np)
	}
	every j, gp in g {
		extra_part_ok(j, gp, count(n))
	}
}

subparts(p) := {trim_space(x) | some x in split(p, ",")}

part_implies(g, i, np) if g[i] == np

part_implies(g, i, _) if i >= count(g)

part_implies(g, i, _) if "*" in subparts(g[i])

part_implies(g, i, np) if count(subparts(np) - subparts(g[i])) == 0

extra_part_ok(j, _, n) if j < n

extra_part_ok(_, gp, _) if "*" in subparts(gp)
