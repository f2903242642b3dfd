package oscore

// aadArray is RFC 8613 5.4's aad_array with no Class I options:
// [oscore_version: 1, algorithms: [alg_aead], request_kid, request_piv, h”].
func aadArray(alg Algorithm, requestKID, requestPIV []byte) []byte {
	b := appendArray(nil, 5)
	b = appendInt(b, 1)
	b = appendArray(b, 1)
	b = appendInt(b, int64(alg))
	b = appendBytes(b, requestKID)
	b = appendBytes(b, requestPIV)
	return appendBytes(b, nil)
}

// oscoreAAD is Enc_structure = ["Encrypt0", h”, bstr .cbor aad_array].
func oscoreAAD(alg Algorithm, requestKID, requestPIV []byte) []byte {
	return encStructure(nil, aadArray(alg, requestKID, requestPIV))
}
