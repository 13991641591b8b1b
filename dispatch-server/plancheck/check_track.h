// The track of a plan check (CheckPlanRequest.track, proto/cit/v1/dispatch.proto) turned into
// the records the monitor evaluates: one Fix record per row, mode 3D, seq 1, 2, ... in row order.
//
//   absl::StatusOr<std::vector<cit::v1::Record>> r = TrackRecords(request.track(), "CIT-7");
//   // INVALID_ARGUMENT "track.lat_deg[12]: 91 is outside [-90, 90]"
//
// The client parsed the file (GPX, GeoJSON, CSV, NMEA) and named file lines in its errors; this
// is the server's own edge check of what arrived (DESIGN §9): column lengths, finite values in
// range, times in order, at most kMaxCheckRecords rows.
//
// Thread contract: pure function.
#ifndef CIT_DISPATCH_SERVER_PLANCHECK_CHECK_TRACK_H_
#define CIT_DISPATCH_SERVER_PLANCHECK_CHECK_TRACK_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cit/v1/dispatch.pb.h"

namespace cit::dispatch {

// A day at 1 Hz is 86,400 fixes; a little more leaves room for faster receivers on short runs.
inline constexpr std::size_t kMaxCheckRecords = 100'000;

absl::StatusOr<std::vector<cit::v1::Record>> TrackRecords(const cit::v1::CheckTrack& track,
                                                          const std::string& vehicle_id);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_PLANCHECK_CHECK_TRACK_H_
