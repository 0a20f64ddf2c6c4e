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
# sub-parts by ",", case-insensitive; "*" matches anything; a granted
# permission with fewer parts implies every value of the missing parts,
# and extra granted parts must be wildcards.
implies(granted, needed) if {
	g := parts(granted)
	n := parts(needed)
	every i, np in n {
		part_implies(g, i, np)
	}
	every j, gp in g {
		extra_part_ok(j, gp, count(n))
	}
}

parts(s) := [{trim_space(lower(x)) | some x in split(p, ",")} | some p in split(s, ":")]

part_implies(g, i, _) if i >= count(g)

part_implies(g, i, _) if "*" in g[i]

part_implies(g, i, np) if count(np - g[i]) == 0

extra_part_ok(j, _, n) if j < n

extra_part_ok(_, gp, _) if "*" in gp
