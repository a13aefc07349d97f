// The operator console: a single-page web app (web/) built at build time and embedded in the
// binary, served under /console/. Typical use (Api does this for GET and HEAD /console...):
//
//   http::Response r = http::ConsoleResponse(http::ConsoleFiles(), "/console/calls/abc");
//
// Answers: "/console" redirects (308) to "/console/"; a file of the build is served with its
// content type ("assets/…" files, whose names carry a content hash, are immutable; the rest are
// no-cache); another path under "assets/" is 404; any other path is a route of the app and gets
// index.html (the app reads the path itself). Every answer carries a strict
// Content-Security-Policy (scripts, styles and API calls from this origin only; no inline code,
// no framing).
#pragma once

#include <span>
#include <string_view>

#include "http/message.h"

namespace http {

struct ConsoleFile {
  std::string_view path;  // relative to /console/, e.g. "index.html", "assets/index-1a2b3c.js"
  std::string_view data;
};

// The files of the build (generated console_assets.cc).
std::span<const ConsoleFile> ConsoleFiles();

// The policy every console answer carries.
inline constexpr std::string_view kConsoleCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

// The answer for `path` (the request's path, without the query, still percent-encoded; it
// starts with "/console"). Pure.
Response ConsoleResponse(std::span<const ConsoleFile> files, std::string_view path);

// "text/html; charset=utf-8" for "a.html", and so on; "application/octet-stream" when unknown.
std::string_view ContentTypeFor(std::string_view file_name);

}  // namespace http
