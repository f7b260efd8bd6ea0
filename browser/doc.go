// Package browser drives headless Chromium through the example server
// (examples/server in demo mode) as a person would: it is a test-only
// module, so that the core module never requires a browser driver.
package browser
