#include "protocol/error.hpp"

namespace conflux {

std::string_view to_string(errc code) noexcept {
  switch (code) {
    case errc::not_leader: return "not_leader";
    case errc::no_quorum: return "no_quorum";
    case errc::timeout: return "timeout";
    case errc::unavailable: return "unavailable";
    case errc::not_found: return "not_found";
    case errc::not_published: return "not_published";
    case errc::already_exists: return "already_exists";
    case errc::revision_mismatch: return "revision_mismatch";
    case errc::version_in_use: return "version_in_use";
    case errc::invalid_argument: return "invalid_argument";
    case errc::invalid_content: return "invalid_content";
    case errc::schema_violation: return "schema_violation";
    case errc::too_large: return "too_large";
    case errc::storage_failure: return "storage_failure";
    case errc::corrupted: return "corrupted";
    case errc::unsupported_version: return "unsupported_version";
    case errc::session_expired: return "session_expired";
    case errc::stale_sequence: return "stale_sequence";
    case errc::resource_exhausted: return "resource_exhausted";
    case errc::permission_denied: return "permission_denied";
    case errc::unauthenticated: return "unauthenticated";
    case errc::failed_precondition: return "failed_precondition";
  }
  return "unknown_error";
}

std::string to_string(const error& e) {
  std::string out{to_string(e.code)};
  if (!e.message.empty()) {
    out += ": ";
    out += e.message;
  }
  return out;
}

} // namespace conflux
