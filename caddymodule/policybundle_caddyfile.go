package caddymodule

import (
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/dustin/go-humanize"

	"github.com/restcomm/restcomm-gateway/internal/policybundle"
)

// parsePolicyBundle reads the policy_bundle block:
//
//	policy_bundle [<name>] {
//	    url                  <service URL>
//	    resource             <path below it>        (default bundles/<name>)
//	    polling              <min delay> [<max delay>]  (default 60s 120s; at least 1s)
//	    long_polling_timeout <duration>|0           (default 0: off)
//	    credentials          bearer <token> [<scheme>]
//	    verification_key     <file> [algorithm <alg>] [key_id <id>] [scope <scope>]
//	    allow_unsigned                              (instead of a key)
//	    max_size             <size>                 (each file; default 32MiB)
//	    on_missing           deny|builtin           (default deny)
//	}
//
// The name is the bundle's (default "restcomm").
func parsePolicyBundle(d *caddyfile.Dispenser) (*PolicyBundleConfig, error) {
	c := &PolicyBundleConfig{}
	switch args := d.RemainingArgs(); len(args) {
	case 0:
	case 1:
		c.Name = args[0]
	default:
		return nil, d.Errf("policy_bundle: want at most a name before the block, got %q", args)
	}
	for d.NextBlock(1) {
		opt := d.Val()
		args := d.RemainingArgs()
		switch opt {
		case "url", "resource", "long_polling_timeout", "max_size", "on_missing":
			if len(args) != 1 {
				return nil, d.Errf("policy_bundle %s: want one value", opt)
			}
		}
		switch opt {
		case "url":
			c.URL = args[0]
		case "resource":
			c.Resource = args[0]
		case "polling":
			if len(args) < 1 || len(args) > 2 {
				return nil, d.Err("policy_bundle polling: want <min delay> [<max delay>]")
			}
			minD, err := bundleDelay(d, "polling", args[0])
			if err != nil {
				return nil, err
			}
			maxD := minD
			if len(args) == 2 {
				if maxD, err = bundleDelay(d, "polling", args[1]); err != nil {
					return nil, err
				}
			}
			c.MinDelay, c.MaxDelay = caddy.Duration(minD), caddy.Duration(maxD)
		case "long_polling_timeout":
			dur, err := bundleDelay(d, opt, args[0])
			if err != nil {
				return nil, err
			}
			c.LongPollingTimeout = caddy.Duration(dur)
		case "credentials":
			if len(args) < 2 || len(args) > 3 || args[0] != "bearer" {
				return nil, d.Err("policy_bundle credentials: want bearer <token> [<scheme>]")
			}
			c.BearerToken = args[1]
			if len(args) == 3 {
				c.BearerScheme = args[2]
			}
		case "verification_key":
			if len(args) == 0 || len(args)%2 != 1 {
				return nil, d.Err("policy_bundle verification_key: want <file> [algorithm <alg>] [key_id <id>] [scope <scope>]")
			}
			c.VerificationKey = args[0]
			for i := 1; i < len(args); i += 2 {
				switch args[i] {
				case "algorithm":
					c.KeyAlgorithm = args[i+1]
				case "key_id":
					c.KeyID = args[i+1]
				case "scope":
					c.Scope = args[i+1]
				default:
					return nil, d.Errf("policy_bundle verification_key: unknown option %q", args[i])
				}
			}
		case "allow_unsigned":
			if len(args) != 0 {
				return nil, d.Err("policy_bundle allow_unsigned: takes no value")
			}
			c.AllowUnsigned = true
		case "max_size":
			n, err := humanize.ParseBytes(args[0])
			if err != nil || n < policybundle.MinMaxSize || n > policybundle.MaxMaxSize {
				return nil, d.Errf("policy_bundle max_size: want a size between 1KiB and 1GiB, such as 32MiB, got %q", args[0])
			}
			c.MaxSize = int64(n)
		case "on_missing":
			c.OnMissing = args[0]
		default:
			return nil, d.Errf("unrecognized policy_bundle option %q", opt)
		}
	}
	if err := c.check(); err != nil {
		return nil, d.Err(err.Error())
	}
	return c, nil
}

// bundleDelay parses a delay of the block: "0" or a duration.
func bundleDelay(d *caddyfile.Dispenser, opt, s string) (time.Duration, error) {
	dur, err := caddy.ParseDuration(s)
	if err != nil || dur < 0 {
		return 0, d.Errf("policy_bundle %s: invalid duration %q", opt, s)
	}
	return dur, nil
}
