package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// Sealer encrypts a new account's (or a new) plaintext password for the
// outbox, and decrypts it for the mirror's delivery worker: RestComm
// creates an account's SIP client with the plaintext and re-hashes the
// client's password on a password change, so the worker needs it to ask
// RestComm's Clients API (outbox.go). The plaintext never sits in Redis
// in the clear: it is sealed with AES-256-GCM under a key derived from
// the mirror's secret_key, bound to the account's SID, and deleted with
// its outbox entry once delivered.
type Sealer struct{ aead cipher.AEAD }

// MinSecretKey is the shortest secret_key accepted, in bytes.
const MinSecretKey = 16

// NewSealer derives the AES-256 key from secret (SHA-256 of it: any
// random string of at least MinSecretKey bytes, e.g. `openssl rand
// -base64 32`). Every gateway sharing a Redis needs the same secret.
func NewSealer(secret string) (*Sealer, error) {
	if len(secret) < MinSecretKey {
		return nil, fmt.Errorf("store: mirror secret key: at least %d bytes", MinSecretKey)
	}
	key := sha256.Sum256([]byte(secret))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext for the account sid: base64 of nonce and
// ciphertext.
func (s *Sealer) Seal(sid, plaintext string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := s.aead.Seal(nonce, nonce, []byte(plaintext), []byte(sid))
	return base64.RawStdEncoding.EncodeToString(out), nil
}

// ErrUnsealable: a sealed password that this key cannot open (sealed
// under another secret_key, or altered).
var ErrUnsealable = errors.New("sealed password cannot be opened with this secret key")

// Open decrypts what Seal returned for the same sid.
func (s *Sealer) Open(sid, sealed string) (string, error) {
	raw, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return "", ErrUnsealable
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(sid))
	if err != nil {
		return "", ErrUnsealable
	}
	return string(plain), nil
}

// ChangeOption adds to an account change what the mirror needs besides
// the fields the gateway stores.
type ChangeOption func(*change)

type change struct{ password, login *string }

// WithPassword gives a create or a password change its plaintext
// password. It goes into the change's outbox entry sealed, and only when
// the store has a Sealer (WithSealer); otherwise it is dropped.
func WithPassword(plaintext string) ChangeOption {
	return func(c *change) { c.password = &plaintext }
}

// WithClientLogin gives a create the login of the account's SIP client as
// RestComm derives it: the local part of the e-mail address as the client
// gave it, before the address is lower-cased for storage.
func WithClientLogin(login string) ChangeOption {
	return func(c *change) { c.login = &login }
}

// WithSealer returns a Store whose account changes carry their plaintext
// password (WithPassword) into the outbox, sealed by sealer.
func (s *Store) WithSealer(sealer *Sealer) *Store {
	c := *s
	c.sealer = sealer
	return &c
}

// changeArgs are the script arguments of opts for a change of sid.
func (s *Store) changeArgs(sid string, opts []ChangeOption) []any {
	var c change
	for _, o := range opts {
		o(&c)
	}
	var args []any
	if c.login != nil {
		args = append(args, aLogin, *c.login)
	}
	if s.sealer == nil || c.password == nil {
		return args
	}
	sealed, err := s.sealer.Seal(sid, *c.password)
	if err != nil {
		return args // no randomness: the SIP client side effect is skipped, the change is not
	}
	return append(args, aSecret, sealed)
}
