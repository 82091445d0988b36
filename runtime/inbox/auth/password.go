package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are argon2id's cost parameters: Memory in KiB, Time (passes), Threads.
// The defaults are OWASP's first recommendation for argon2id (m=19 MiB, t=2, p=1,
// "Password Storage Cheat Sheet"): one hash takes tens of milliseconds on one core.
type Argon2Params struct {
	Memory  uint32
	Time    uint32
	Threads uint8
}

// DefaultArgon2 is the cost new hashes are made with.
var DefaultArgon2 = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1}

// Password length bounds (characters). Longer passphrases are fine; the upper bound keeps
// one login from making the server hash megabytes.
const (
	MinPasswordLength = 12
	MaxPasswordLength = 256
)

const (
	saltLen = 16
	keyLen  = 32
)

// ErrMismatch is VerifyPassword's answer for a wrong password.
var ErrMismatch = errors.New("the password does not match")

// CheckPassword says why a new password is refused (its length), or nil.
func CheckPassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLength || n > MaxPasswordLength {
		return fmt.Errorf("must be %d to %d characters long, got %d", MinPasswordLength, MaxPasswordLength, n)
	}
	return nil
}

// HashPassword returns pw hashed with argon2id under a fresh 16-byte random salt, in the
// PHC string format "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" (base64 without
// padding), which records the parameters so that they may be raised later.
func HashPassword(pw string, p Argon2Params) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword checks pw against a HashPassword string in constant time: nil when it
// matches, ErrMismatch when not, another error when the hash is not an argon2id PHC
// string this package can read (its parameters are bounded so that a tampered hash
// cannot make the server allocate gigabytes).
func VerifyPassword(encoded, pw string) error {
	p, salt, key, err := decodeHash(encoded)
	if err != nil {
		return err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return ErrMismatch
	}
	return nil
}

func decodeHash(encoded string) (Argon2Params, []byte, []byte, error) {
	var p Argon2Params
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("the password hash is not an argon2id PHC string")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, fmt.Errorf("the password hash has argon2 version %q, want v=%d", parts[2], argon2.Version)
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, fmt.Errorf("the password hash's parameters %q: %w", parts[3], err)
	}
	if p.Memory < 8 || p.Memory > 1<<20 || p.Time < 1 || p.Time > 20 || p.Threads < 1 {
		return p, nil, nil, fmt.Errorf("the password hash's parameters %q are out of bounds", parts[3])
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err := errors.Join(err1, err2); err != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errors.New("the password hash's salt or key is not valid base64 of a usable length")
	}
	return p, salt, key, nil
}

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+: it crashes the program instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewPassword returns a random password of 24 characters from the base64url alphabet
// (144 bits), for the initial admin and password resets without a chosen password.
func NewPassword() string { return randomToken(18) }
