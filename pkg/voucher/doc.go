// Package voucher implements the voucher artifact of RFC 8366 (as revised
// by draft-ietf-anima-rfc8366bis) and the voucher-request of RFC 8995
// (BRSKI): their YANG-JSON encoding, their CMS (RFC 5652) signing and
// verification, and the checks each BRSKI role makes before it trusts one.
//
// Three roles use it:
//
//   - the pledge builds and signs a pledge voucher-request
//     (NewPledgeRequest), and later accepts a voucher with CheckVoucher,
//     which returns the pinned domain certificate for the next step;
//   - the registrar checks the pledge's request with CheckPledgeRequest
//     (RFC 8995 section 5.3) and wraps it into a registrar voucher-request
//     with NewRegistrarRequest (section 5.5);
//   - the MASA checks the registrar's request with CheckRegistrarRequest
//     (sections 5.5.1 to 5.5.5) and answers with NewVoucher (section 5.6).
//
// # Files
//
//	voucher.go           RFC 8366 5.3, RFC 8995 3.4  Voucher, VoucherRequest and their shared leaves
//	json.go              RFC 8366 5.3, RFC 7951      YANG-JSON encoding and strict parsing
//	validate.go          RFC 8366 5.3, RFC 8995 3.4  which leaves each document must and must not hold
//	request.go           RFC 8995 5.2, 5.5, 5.6      building the pledge and registrar requests and the voucher
//	cms_sign.go          RFC 8366 5.4, RFC 5652 5    CMS SignedData over a voucher or request
//	cms_verify.go        RFC 5652 5.3-5.6            parsing and verifying the CMS
//	jws.go               draft-ietf-anima-jws-voucher  JWS (General JSON Serialization) signing and verification
//	cose.go              draft-ietf-anima-constrained-voucher, RFC 9052, RFC 9360  COSE_Sign1, x5bag/x5chain/kid, stripping
//	cbor.go              rfc8366bis 8, RFC 9254      SID-keyed CBOR of the two containers
//	format.go                                        Format, media types, VerifyAs, the shared ECDSA profile
//	checks_registrar.go  RFC 8995 5.3                the registrar's checks of a pledge request
//	checks_masa.go       RFC 8995 5.5.1-5.5.5        the MASA's checks of a registrar request
//	checks_pledge.go     RFC 8995 5.6.1              the pledge's checks of a voucher
//	idevid.go            RFC 8995 2.3, RFC 6402      IDevID serial number and MASA URL, id-kp-cmcRA
//	idevid_issuer.go     rfc8366bis 5.1, 5.3         idevid-issuer: derived (with or without an AKI), its four encodings
//	wellknown.go         RFC 8366 8.3, RFC 8995 5    the media type and the /.well-known/brski paths
//	errors.go            RFC 8995 5.3, 5.6           Error, its codes and HTTP status
//
// The wire names are defined here once for every service: MediaTypeVoucherCMS,
// the Path* resources, OIDCmcRA and OIDAnimaJSONVoucher.
//
// Every failure is an *Error whose Code callers test with errors.Is against
// the sentinels (ErrBadSignature, ErrNonceMismatch, ...) and whose Status is
// the HTTP status RFC 8995 gives that failure.
//
// Validation never reads the clock: every check takes the time to judge
// validity at. CMS is github.com/smallstep/pkcs7; on input both
// id-ct-animaJSONVoucher and id-data are accepted as eContentType, and a
// SignerInfo without signed attributes only over id-data (RFC 5652 5.3:
// ErrNoSignedAttributes otherwise); Signer always writes content-type,
// message-digest and signing-time. Package vouchertest builds the
// attribute-less CMS an attacker would, for tests.
//
// Three signature formats wrap the same documents (Format): CMS
// (application/voucher-cms+json), JWS (application/voucher-jws+json, the
// JSON document as payload, alg/typ/x5c protected) and COSE_Sign1
// (application/voucher+cose, CoAP Content-Format 836, the SID-keyed CBOR
// document as payload). Signer signs in each (SignVoucherAs,
// SignVoucherRequestAs); VerifyAs verifies each against the same
// VerifyOptions; the role checks take the format in their Format field
// and apply the same rules; a prior-signed-voucher-request is recognized
// by DetectFormat. JWS and COSE are ECDSA only (ES256, ES384, ES512 after
// the key's curve); a verifier without a clock judges them at the
// payload's created-on, as it judges CMS at signing-time. A registrar
// relaying a COSE voucher strips its x5bag/x5chain with StripCOSECerts.
//
// rfc8366bis leaves: est-domain, additional-configuration-url,
// manufacturer-proprietary (written base64url in JSON, as the module's
// description says; read in either alphabet), extensions and the
// "extension:<name>" sub-maps (JSON only: an extension keyed by SID needs
// its definition, so CBOR carries extension names but refuses SIDs as
// unsupported content), and BRSKI-PRM's agent-provided-proximity-
// registrar-cert, agent-sign-cert and agent-signed-data in requests.
// Several pins in a voucher are legal: the pledge takes the one its
// request used (VoucherCheck.RequestPin), or the first in the draft's
// order (pubk-sha256, pubk, cert), and AcceptedVoucher.PinsRegistrar
// checks the registrar by it. Several proximity leaves in a pledge
// request are legal: the registrar and the MASA check each present, in
// that order.
//
// The package knows nothing of transports, storage or policy (which MASA
// owns which device, which pledges a registrar admits): those belong to the
// services that call it.
package voucher
