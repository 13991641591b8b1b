// The page token of the unary GetTrack: where the next page starts and the chain length the
// first page pinned, so later pages see the same records (track_pages.h).
//
//   std::string t = EncodeTrackPageToken({.after = KeyOf(last), .max_chain_index = 86400});
//   absl::StatusOr<TrackPageToken> back = DecodeTrackPageToken(t);   // from a client: untrusted
//
// Text "p1.<event_time_ns>.<seq>.<max_chain_index>" (decimal); clients treat it as opaque.
//
// Thread contract: free functions, no shared state.
#ifndef CIT_DISPATCH_SERVER_AUDIT_TRACK_PAGE_TOKEN_H_
#define CIT_DISPATCH_SERVER_AUDIT_TRACK_PAGE_TOKEN_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "dispatch-server/audit/audit_source.h"

namespace cit::dispatch {

struct TrackPageToken {
  TrackKey after;
  uint64_t max_chain_index = 0;
  bool operator==(const TrackPageToken&) const = default;
};

std::string EncodeTrackPageToken(const TrackPageToken& token);
// INVALID_ARGUMENT, naming the problem, for anything EncodeTrackPageToken did not write.
absl::StatusOr<TrackPageToken> DecodeTrackPageToken(std::string_view text);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUDIT_TRACK_PAGE_TOKEN_H_
