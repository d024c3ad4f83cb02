package cloudcontroller

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf16"
)

// Scopes every token of the one admin user carries (spec §3.3).
var Scopes = []string{"cloud_controller.admin", "cloud_controller.read", "cloud_controller.write", "doppler.firehose", "openid"}

// Claims are the JWT payload of spec §3.4.
type Claims struct {
	Jti       string   `json:"jti"`
	Sub       string   `json:"sub"`
	UserID    string   `json:"user_id"`
	UserName  string   `json:"user_name"`
	Email     string   `json:"email"`
	ClientID  string   `json:"client_id"`
	Cid       string   `json:"cid"`
	Azp       string   `json:"azp"`
	GrantType string   `json:"grant_type"`
	Scope     []string `json:"scope"`
	Aud       []string `json:"aud"`
	Iss       string   `json:"iss"`
	Iat       int64    `json:"iat"`
	Exp       int64    `json:"exp"`
	Origin    string   `json:"origin"`
	Zid       string   `json:"zid"`
	TokenUse  string   `json:"token_use"`
}

// Tokens signs and verifies HS256 JWTs by hand rather than through a JWT
// library: the CLI's decoder forces the payload's byte-level escaping
// (spec §3.4's ASCII rule), which a library's encoder does not let us
// control, and the verification steps of §3.5 are a dozen lines.
type Tokens struct {
	secret []byte
	issuer string
}

var errBadToken = errors.New("invalid token")

const jwtHeader = `{"alg":"HS256","typ":"JWT"}`

// Sign returns the token for c.
func (t Tokens) Sign(c Claims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(jwtHeader)) + "." + enc.EncodeToString(asciiJSON(payload))
	mac := hmac.New(sha256.New, t.secret)
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil)), nil
}

// Verify checks a token's form, signature, issuer, use and expiry (§3.5).
func (t Tokens) Verify(token, use string, now time.Time) (Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, errBadToken
	}
	enc := base64.RawURLEncoding
	hb, err := enc.DecodeString(parts[0])
	if err != nil {
		return Claims{}, errBadToken
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(hb, &header) != nil || header.Alg != "HS256" {
		return Claims{}, errBadToken
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil {
		return Claims{}, errBadToken
	}
	mac := hmac.New(sha256.New, t.secret)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return Claims{}, errBadToken
	}
	pb, err := enc.DecodeString(parts[1])
	if err != nil {
		return Claims{}, errBadToken
	}
	var c Claims
	if json.Unmarshal(pb, &c) != nil {
		return Claims{}, errBadToken
	}
	if c.Iss != t.issuer || c.TokenUse != use || c.Exp <= now.Unix() {
		return Claims{}, errBadToken
	}
	return c, nil
}

// HasAdminScope reports whether c may use the API.
func (c Claims) HasAdminScope() bool { return slices.Contains(c.Scope, "cloud_controller.admin") }

// asciiJSON escapes every byte outside 0x20–0x7E and every '>', '?', '~'
// of JSON text as \uXXXX, so that the base64url text of the result has no
// '-' or '_' and the CLI's standard-alphabet decoder reads it (§3.4).
func asciiJSON(in []byte) []byte {
	var b strings.Builder
	for _, r := range string(in) {
		switch {
		case r == '>' || r == '?' || r == '~' || r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		case r > 0x7f:
			if r > 0xffff {
				r1, r2 := utf16.EncodeRune(r)
				fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return []byte(b.String())
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
