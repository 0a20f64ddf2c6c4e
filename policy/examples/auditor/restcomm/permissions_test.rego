package restcomm.permissions_test

import data.restcomm.permissions.implies
import data.restcomm.permissions.permitted

test_wildcards if {
	implies("RestComm:*:Accounts", "RestComm:Read:Accounts")
	implies("restcomm:*:accounts", "RestComm:Modify:Accounts")
	implies("RestComm", "RestComm:Read:Accounts")
	implies("RestComm:Read", "RestComm:Read:Accounts")
	implies("RestComm:Create,Delete,Read:Faxes", "RestComm:Read:Faxes")
	implies("RestComm:Read, Modify:SandBoxes", "RestComm:Modify:SandBoxes")
	implies("*", "RestComm:Read:Accounts")
	implies("RestComm:*:*", "RestComm:Read:Accounts")
	implies("RestComm:Read:Accounts,Calls", "RestComm:Read:Calls")
	implies("RestComm:Read:Accounts:*", "RestComm:Read:Accounts")
}

test_non_implications if {
	not implies("RestComm:Read:Accounts", "RestComm:Modify:Accounts")
	not implies("RestComm:Create,Delete,Read:Faxes", "RestComm:Modify:Faxes")
	not implies("RestComm:Read:Accounts", "RestComm:Read")
	not implies("RestComm:Read:Accounts:x", "RestComm:Read:Accounts")
	not implies("Other:*:Accounts", "RestComm:Read:Accounts")
	not implies("RestComm:Read:Accounts,Calls", "RestComm:Read:Accounts,Clients")
}

test_developer_role_is_restcomm_xml if {
	permitted("RestComm:Read:Accounts") with input as {"caller": {"role": "Developer"}}
	permitted("RestComm:Create:Accounts") with input as {"caller": {"role": "Developer"}}
	permitted("RestComm:Read:Recordings") with input as {"caller": {"role": "Developer"}}
	not permitted("RestComm:Modify:Recordings") with input as {"caller": {"role": "Developer"}}
	not permitted("RestComm:Read:Organizations") with input as {"caller": {"role": "Developer"}}
}

test_administrator_holds_everything if {
	permitted("Anything:At:All") with input as {"caller": {"role": "Administrator"}}
	not permitted("RestComm:Read:Accounts") with input as {"caller": {"role": "administrator"}}
}

test_unknown_or_empty_role_holds_nothing if {
	not permitted("RestComm:Read:Accounts") with input as {"caller": {"role": "Guest"}}
	not permitted("RestComm:Read:Accounts") with input as {"caller": {"role": ""}}
}
