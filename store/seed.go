package store

import (
	"context"
	"errors"
	"time"
)

// RestComm's shipped defaults (restcomm.script / init.sql).
const (
	DefaultOrganizationSid    = "ORafbe225ad37541eba518a74248f0ac4c"
	DefaultOrganizationDomain = "default.restcomm.com"
	DefaultAdminSid           = "ACae6e420f425248d6a26948c17a9e2acf"
	DefaultAdminEmail         = "administrator@company.com"
	// DefaultAdminAuthToken is md5("RestComm").
	DefaultAdminAuthToken = "77f8c12cc7b8f8423e5c38b035249166"
)

// SeedResult says what Seed created; false means it was already there.
type SeedResult struct {
	Organization bool
	Admin        bool
}

// Seed creates RestComm's default organization (with the given domain, or
// DefaultOrganizationDomain) and default administrator when they are
// missing. It never overwrites: each creation is one atomic script that
// refuses existing keys, so any number of gateways may seed one Redis at
// once and exactly one of each is created.
func (s *Store) Seed(ctx context.Context, domain string) (SeedResult, error) {
	if domain == "" {
		domain = DefaultOrganizationDomain
	}
	var res SeedResult
	_, err := s.CreateOrganization(ctx, nil, &Organization{
		Sid:         DefaultOrganizationSid,
		DomainName:  domain,
		Status:      "active",
		DateCreated: time.Date(2017, 4, 19, 0, 0, 0, 0, time.UTC),
		DateUpdated: time.Date(2017, 4, 19, 0, 0, 0, 0, time.UTC),
	})
	switch {
	case err == nil:
		res.Organization = true
	case !errors.Is(err, ErrDuplicate):
		return res, err
	}
	seeded := time.Date(2012, 4, 24, 0, 0, 0, 0, time.UTC)
	_, err = s.CreateAccount(ctx, nil, &Account{
		Sid:             DefaultAdminSid,
		OrganizationSid: DefaultOrganizationSid,
		FriendlyName:    "Default Administrator Account",
		EmailAddress:    DefaultAdminEmail,
		Type:            "Full",
		Status:          StatusUninitialized,
		Role:            "Administrator",
		AuthToken:       DefaultAdminAuthToken,
		URI:             "/2012-04-24/Accounts/" + DefaultAdminSid,
		DateCreated:     seeded,
		DateUpdated:     seeded,
	})
	switch {
	case err == nil:
		res.Admin = true
	case errors.Is(err, ErrDuplicate):
	case errors.Is(err, ErrNoOrganization):
		// The default organization was deleted by an operator; leave it so.
	default:
		return res, err
	}
	return res, nil
}
