// The JSON every channel sends (webhook body, e-mail text part, exec hook stdin):
//
//   {"idempotency_key": "17-2-supervisor", "target": "supervisor", "step": 2,
//    "comment": "escalation step 2: not acknowledged after 60 s; ...",
//    "alert": {...cit.v1.Alert as proto JSON...}, "event": {...cit.v1.AlertEvent...}}
//
// Thread contract: pure functions.
#ifndef CIT_DISPATCH_SERVER_NOTIFY_PAYLOAD_H_
#define CIT_DISPATCH_SERVER_NOTIFY_PAYLOAD_H_

#include <cstdint>
#include <string>

#include "cit/v1/dispatch.pb.h"

namespace cit::dispatch {

// The idempotency key of the notification of `alert_id`'s policy step `step` to `target`: the
// same on every attempt and after a restart, so a receiver can drop repeats.
std::string IdempotencyKey(uint64_t alert_id, uint32_t step, const std::string& target);

std::string BuildPayload(const cit::v1::AlertEvent& event, uint32_t step, const std::string& target,
                         const std::string& key);

// A one-line human summary for an e-mail subject or an SMS: "CRITICAL PANIC CIT-7 (alert 17)".
std::string Summary(const cit::v1::Alert& alert);

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_NOTIFY_PAYLOAD_H_
