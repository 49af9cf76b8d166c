package sqlstore

// StoredKey exposes storedKey to the external tests, which lock a key's
// row by hand.
var StoredKey = storedKey
