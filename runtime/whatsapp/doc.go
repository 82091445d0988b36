// Package whatsapp is Switchboard's client for Meta's WhatsApp Cloud API
// (Graph API): sending messages, marking them read, and reading a business
// phone number's quality and limits. It also holds the shared Cloud API
// vocabulary the sender, the inbox and the simulator use: webhook payload
// types, webhook signatures, messaging-limit tiers and throughput levels.
//
// Errors are *Error values classified by Meta's error.code (never by HTTP
// status, as Meta instructs) into a Class that tells the caller what to do:
// retry later, retry only that recipient later, pause the number, switch to a
// template, or give up. The access token never appears in an error string.
package whatsapp
