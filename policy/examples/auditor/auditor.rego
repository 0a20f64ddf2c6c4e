# A read-only Auditor role (policy/README.md, worked example a): an Auditor
# reads the accounts of its subtree and changes nothing. The role is data,
# restcomm/roles/data.json: RestComm:Read:Accounts, and nothing else.
package restcomm.overlay.auditor

# Like an Administrator, an Auditor reads its descendants (without tokens).
may_read_target if {
	input.caller.role == "Auditor"
	input.caller.sid in input.target.ancestors
}

# Whatever else would let it (a top-level Auditor is structurally a Super
# Admin), an Auditor's every request but a read is refused where RestComm
# checks permissions, requests passed to RestComm included.
deny_operation contains {"status": 403, "stage": 10} if {
	input.caller.role == "Auditor"
	not reads
}

reads if input.operation in {"accounts:read", "accounts:list", "organizations:read", "organizations:list", "none"}

reads if {
	input.operation == "proxy"
	input.method in {"GET", "HEAD", "OPTIONS"}
}
