package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/restcomm/restcomm-gateway/store"
	"github.com/restcomm/restcomm-gateway/store/restcommdb"
)

// ExportCounts says how much an export wrote.
type ExportCounts struct {
	Organizations, Accounts, Reservations int
}

// Export writes every organization and every account of st as JSON lines
// (restcommdb's format): a header, the organizations in SID order, then
// each organization's accounts in SID order, then the reservations. The
// header records the namespace's comparison rule. It reads in batches, so a
// gateway sharing the Redis keeps answering; accounts changed while it
// runs may be written before or after their change. The lines hold auth
// tokens: keep the file as secret as the Redis.
func Export(ctx context.Context, st *store.Store, w io.Writer, namespace string) (ExportCounts, error) {
	var n ExportCounts
	// the rule travels with the accounts: an import of the file keys a
	// namespace as this one is keyed
	rule, err := st.NamespaceCollation(ctx)
	if err != nil {
		return n, err
	}
	h := restcommdb.Header{Kind: restcommdb.KindExport, Format: restcommdb.JSONLFormat,
		Namespace: namespace, Exported: time.Now().UTC().Format(time.RFC3339)}
	if rule != nil {
		h.Collation = rule.Name()
	}
	jw := restcommdb.NewJSONLWriter(w)
	if err := jw.Write(h); err != nil {
		return n, err
	}
	orgs, err := st.Organizations(ctx)
	if err != nil {
		return n, err
	}
	for _, o := range orgs {
		if err := jw.Write(restcommdb.JSONOrganization{Kind: restcommdb.KindOrganization, Sid: o.Sid,
			DomainName: o.DomainName, Status: o.Status,
			DateCreated: rfc3339(o.DateCreated), DateUpdated: rfc3339(o.DateUpdated)}); err != nil {
			return n, err
		}
		n.Organizations++
	}
	for _, o := range orgs {
		err := st.EachOrganizationAccount(ctx, o.Sid, func(as []store.Account) error {
			for i := range as {
				a := &as[i]
				var parent *string
				if a.ParentSid != "" {
					p := a.ParentSid
					parent = &p
				}
				if err := jw.Write(restcommdb.JSONAccount{Kind: restcommdb.KindAccount, Sid: a.Sid,
					DateCreated: rfc3339(a.DateCreated), DateUpdated: rfc3339(a.DateUpdated),
					EmailAddress: a.EmailAddress, FriendlyName: a.FriendlyName, ParentSid: parent,
					Type: a.Type, Status: a.Status, AuthToken: a.AuthToken, Role: a.Role, URI: a.URI,
					OrganizationSid: a.OrganizationSid}); err != nil {
					return err
				}
				n.Accounts++
			}
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	// the reservations, so that a restore keeps RestComm's skipped rows
	// reserved
	rs, err := st.Reservations(ctx)
	if err != nil {
		return n, err
	}
	for _, x := range rs {
		if err := jw.Write(restcommdb.JSONReservation{Kind: restcommdb.KindReservation, Sid: x.Sid,
			EmailAddress: x.Email, Reason: x.Reason}); err != nil {
			return n, err
		}
		n.Reservations++
	}
	return n, jw.Flush()
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// OutputFile is an export file being written: a new file beside its
// target, created readable and writable by its owner only (0600) and
// exclusively (O_EXCL), which Commit moves to the target once complete.
// Whatever the target was, its mode, owner and links are never reused,
// and nothing is ever written through a symbolic link: the export holds
// every auth token of the namespace.
type OutputFile struct {
	*os.File
	target string
	force  bool
	done   bool
}

// CreateOutput starts an export file for target. It refuses a target that
// is a symbolic link (even with force: the link, not the file it points
// to, would be what the user named) or anything but a regular file, and
// a target that exists unless force, which replaces it.
func CreateOutput(target string, force bool) (*OutputFile, error) {
	if err := checkTarget(target, force); err != nil {
		return nil, err
	}
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	// os.CreateTemp opens with O_CREATE|O_EXCL and mode 0600
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return nil, err
	}
	return &OutputFile{File: f, target: target, force: force}, nil
}

// checkTarget refuses what CreateOutput must not write over.
func checkTarget(target string, force bool) error {
	fi, err := os.Lstat(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link: refusing to write an export through it (name the file itself)", target)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s exists and is not a regular file", target)
	case !force:
		return fmt.Errorf("%s exists: refusing to overwrite it (--force replaces it with a new file readable by its owner only)", target)
	}
	return nil
}

// Commit flushes the file to disk and moves it to the target: without
// force only if the target still does not exist (a hard link, which fails
// when it does), with force over it (a rename, which replaces the
// directory entry and never follows a link). On error the target is left
// as it was and the new file is removed.
func (o *OutputFile) Commit() error {
	if o.done {
		return errors.New("export file already committed or aborted")
	}
	o.done = true
	tmp := o.Name()
	err := o.Sync()
	if cerr := o.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = checkTarget(o.target, o.force) // it may have changed while the export ran
	}
	if err == nil && o.force {
		err = os.Rename(tmp, o.target)
	} else if err == nil {
		if err = os.Link(tmp, o.target); errors.Is(err, fs.ErrExist) {
			err = fmt.Errorf("%s was created meanwhile: refusing to overwrite it", o.target)
		}
		if err == nil {
			_ = os.Remove(tmp) // the target holds it now
		}
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	// the new name survives a crash only once its directory is on disk
	if d, err := os.Open(filepath.Dir(o.target)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// Abort removes the file; the target is left as it was. It does nothing
// after Commit, so that it can be deferred.
func (o *OutputFile) Abort() {
	if o.done {
		return
	}
	o.done = true
	_ = o.Close()
	_ = os.Remove(o.Name())
}
