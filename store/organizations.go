package store

import (
	"context"
	_ "embed"
	"strings"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed lua/create_organization.lua
	createOrganizationSrc    string
	createOrganizationScript = writeScript(keysSrc + createOrganizationSrc)
)

// Organization returns the organization with that SID, or ErrNotFound.
func (s *Store) Organization(ctx context.Context, sid string) (*Organization, error) {
	reply, err := s.rdb.Do(ctx, "HGETALL", s.key("org", sid)).Result()
	if err != nil {
		return nil, err
	}
	o, err := organizationFrom(reply)
	if err == nil && o == nil {
		err = ErrNotFound
	}
	return o, err
}

// OrganizationByDomain finds an organization by domain name,
// case-insensitively and ignoring one trailing dot, as RestComm does.
func (s *Store) OrganizationByDomain(ctx context.Context, domain string) (*Organization, error) {
	sid, err := s.rdb.Get(ctx, s.key("orgdomain", domainKey(domain))).Result()
	if err == redis.Nil {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.Organization(ctx, sid)
}

// Organizations returns every organization in SID order.
func (s *Store) Organizations(ctx context.Context) ([]Organization, error) {
	out := []Organization{}
	err := s.EachOrganization(ctx, func(batch []Organization) error {
		out = append(out, batch...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreateOrganization stores a new organization; ErrDuplicate when its SID
// or its domain name is taken, ErrStale when the guard no longer holds.
func (s *Store) CreateOrganization(ctx context.Context, g *Guard, o *Organization) (*Organization, error) {
	wctx, cancel := writeContext(ctx)
	reply, err := s.run(wctx, createOrganizationScript, g.args(aDomainKey, domainKey(o.DomainName),
		fSid, o.Sid, fDomain, o.DomainName, fStatus, o.Status,
		fCreated, unix(o.DateCreated), fUpdated, unix(o.DateUpdated), aKeys, s.keys.load().version)...)
	cancel()
	reply, err = s.settle(ctx, g, "org", o.Sid, reply, err)
	if err != nil {
		return nil, scriptError("create organization", err)
	}
	return organizationFrom(reply)
}

func domainKey(domain string) string {
	return strings.ToLower(strings.TrimSuffix(domain, "."))
}
