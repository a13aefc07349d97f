// One HTTP attempt of a webhook on a libcurl easy handle: options (no redirects, timeouts, no
// proxy, http/https only), the SSRF guard on every connect, at most two sends of the request
// (kMaxSendsPerAttempt), a bounded response read, and the translation of libcurl's result into
// an attempt record. The caller owns the multi handle that drives it.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "core/result.h"
#include "webhook/request.h"

namespace webhook {

// libcurl sends a request again, on another connection, when a kept-alive connection it reused
// closed before a byte of answer (it takes it for one the receiver closed while it sat idle),
// and again on the next, up to six sends in all. An attempt allows that once: a second time it
// ends as a "transport" failure, retried on the schedule.
constexpr int kMaxSendsPerAttempt = 2;

struct TransferOptions {
  bool allow_private = false;  // skip the SSRF guard (tests, lab setups)
  std::chrono::milliseconds attempt_timeout{15000};
  std::chrono::milliseconds connect_timeout{5000};
  size_t max_response_bytes = 1 << 16;  // a longer response is cut off here ("too_large")
  size_t excerpt_bytes = 1024;
};

// What an attempt produced.
struct TransferResult {
  // The response status; none when no complete response arrived (any transport error except
  // "too_large", whose status line did arrive).
  std::optional<int> http_status;
  // "" for a complete response, else the error class: "timeout", "connect", "dns",
  // "refused_address", "tls", "too_large", "bad_url" or "transport".
  std::string error;
  // What happened, in words, where the error class alone does not say it; no URL, key or
  // secret. "" otherwise.
  std::string detail;
  std::string excerpt;                     // Utf8Excerpt of the body read
  std::optional<std::string> retry_after;  // the final response's Retry-After, raw
  int64_t latency_ms = 0;                  // from Create() to Finish()
};

// The error class of a libcurl result. `refused` is true when the SSRF guard refused an
// address of this transfer; `too_large` when the write callback cut the response off;
// `detail` is libcurl's error buffer (it tells a resolve or connect timeout from a slow
// response). "" for CURLE_OK. Pure.
std::string ErrorClass(CURLcode code, bool refused, bool too_large, std::string_view detail);

// "host:port" (host in lower case, the scheme's default port when none is given) of an
// http(s) URL, the unit of the per-host connection limit; nullopt when it has no host or port
// (or libcurl cannot parse it either).
std::optional<std::string> HostKey(const std::string& url);

// Not thread-safe: used by the dispatcher's loop thread only. Not movable (libcurl keeps
// pointers to it).
class Transfer {
 public:
  // Configures an easy handle for `request`: `reuse`, one an earlier Transfer released (no
  // longer in a multi handle), or a new one; the attempt's clock starts now. Every option any
  // attempt sets is set again, so nothing of the handle's last request carries over (reusing
  // it skips libcurl's set-up and tear-down of a handle: a tenth of the dispatcher's work).
  // kInternal when libcurl refuses an option (a libcurl without http/https support).
  static core::Result<std::unique_ptr<Transfer>> Create(OutgoingRequest request,
                                                        const TransferOptions& options,
                                                        CURL* reuse = nullptr);
  ~Transfer();
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  // The easy handle, to add to (and remove from) a multi handle. Owned by this.
  CURL* handle() const { return easy_; }
  // Gives up the easy handle (removed from its multi handle) for another Transfer to reuse; it
  // keeps no pointer into this Transfer.
  CURL* Release();
  const OutgoingRequest& request() const { return request_; }

  // The attempt's outcome once the multi handle reported it done with `code`.
  TransferResult Finish(CURLcode code);

 private:
  Transfer(OutgoingRequest request, const TransferOptions& options, CURL* easy);
  core::Result<void> Configure();

  static size_t OnWrite(char* data, size_t size, size_t n, void* self);
  static size_t OnHeader(char* data, size_t size, size_t n, void* self);
  static curl_socket_t OnOpenSocket(void* self, curlsocktype purpose, curl_sockaddr* address);
  // Before each send of the request, on a new or a reused connection: refuses a third.
  static int OnPrerequest(void* self, char* remote_ip, char* local_ip, int remote_port,
                          int local_port);

  // Immutable after construction.
  const OutgoingRequest request_;
  const TransferOptions options_;
  const std::chrono::steady_clock::time_point started_;
  CURL* easy_ = nullptr;
  curl_slist* headers_ = nullptr;

  // Written by libcurl's callbacks.
  std::string body_;  // the first excerpt_bytes + 3 bytes (room to end on a whole character)
  size_t body_bytes_ = 0;
  bool too_large_ = false;
  bool refused_ = false;
  int sends_ = 0;
  bool send_refused_ = false;  // OnPrerequest refused a send
  std::optional<std::string> retry_after_;
  char error_buffer_[CURL_ERROR_SIZE] = {};
};

}  // namespace webhook
