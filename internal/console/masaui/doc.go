// Package masaui is the MASA's operator console: the manufacturer's
// devices (search by serial number, bulk import, minting an IDevID from a
// device's CSR), its owners and the sales that give devices to them, the
// vouchers it issued, and its audit trail. It is served on the MASA's
// admin listener at Base by the admin handler itself
// (internal/masa/httpapi.AdminHandler), so `masa serve`, the sandbox and
// the demo all serve it.
//
// It is built on the shared console framework (internal/console/web) and
// is not a second admin API: every page and action calls the same
// masa.Service methods and store queries the admin API's handlers call,
// gated by the same permissions (masa.Permission: a token's role, admin
// holding all), and a failure shows the status and reason the admin API
// would answer (Options.Classify is the admin API's own classifier).
package masaui
