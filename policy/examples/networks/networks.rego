# Super Admin powers only from the admin networks (policy/README.md, worked
# example b). The networks are data, restcomm/networks/data.json: CIDR
# blocks, IPv4 or IPv6, matched against input.client_ip. From anywhere
# else, or without an address, a top-level account (or a stored role
# SuperAdmin) is an ordinary account of its role: it still reads and
# changes its own subtree, but does nothing only a Super Admin may do.
package restcomm.overlay.networks

deny_super_admin if not from_admin_network

from_admin_network if {
	some cidr in data.restcomm.networks.super_admin
	net.cidr_contains(cidr, input.client_ip)
}
