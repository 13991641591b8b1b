// `dispatchctl audit identities`: the identity log (token/role changes the server learned of at
// start-up) as a history, and the answer to an auditor's question "who could acknowledge alerts
// on 3 March?": every operator in force at some moment of a time window, with the roles they
// held then.
//
//   std::optional<TimeWindow> w = ParseTimeWindow("2027-03-03");   // the whole UTC day
//   std::vector<IdentityInForce> who = IdentitiesInForce(events, *w);
//   std::cout << FormatIdentitiesInForce(who, *w) << FormatIdentityHistory(events);
//
// Which roles may acknowledge alerts mirrors the server's permission table
// (dispatch-server/auth/roles.cc: AckAlert for operator, dispatcher, admin).
//
// Thread contract: pure functions.
#ifndef CIT_DISPATCHCTL_IDENTITY_FORMAT_H_
#define CIT_DISPATCHCTL_IDENTITY_FORMAT_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cit/v1/dispatch.pb.h"

namespace cit::ctl {

// [from, to]; from == to for one instant.
struct TimeWindow {
  google::protobuf::Timestamp from;
  google::protobuf::Timestamp to;
  bool day = false;  // given as YYYY-MM-DD
};

// "2027-03-03" (the UTC day, to its last nanosecond) or an RFC 3339 time; nullopt otherwise.
std::optional<TimeWindow> ParseTimeWindow(std::string_view text);

struct IdentityInForce {
  std::string name;
  std::vector<std::string> roles;         // every role held during the window, in order
  std::vector<std::string> fingerprints;  // every token fingerprint held during it
  bool can_acknowledge = false;           // one of those roles may acknowledge alerts
};

// Operators in force at some moment of `window`, by name. `events` oldest first.
std::vector<IdentityInForce> IdentitiesInForce(const std::vector<cit::v1::IdentityEvent>& events,
                                               const TimeWindow& window);

bool RoleMayAcknowledge(std::string_view role);

std::string FormatIdentityHistory(const std::vector<cit::v1::IdentityEvent>& events);
std::string FormatIdentitiesInForce(const std::vector<IdentityInForce>& who,
                                    const TimeWindow& window);

}  // namespace cit::ctl

#endif  // CIT_DISPATCHCTL_IDENTITY_FORMAT_H_
