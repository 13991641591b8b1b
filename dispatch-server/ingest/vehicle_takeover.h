// Takes vehicles over for an instance that shares its PostgreSQL database with others (issue 15
// §3): when a vehicle's stream opens here, Store::TakeOwnership makes this instance its writer
// (new fencing token, the vehicle's state reloaded) before the Welcome says what is stored.
// TakeOwnership is a database transaction that also waits for a commit under way, so it runs on
// this one worker thread, never on a gRPC thread (streams must not block).
//
//   VehicleTakeovers takeovers(store, [&](const std::string& vehicle, std::any ctx,
//                                         absl::StatusOr<uint64_t> token) { ... });
//   takeovers.Submit("CIT-0001", ctx);   // `done` runs on the worker, in submission order
//   takeovers.Stop();                     // runs the queued ones with UNAVAILABLE, then joins
//
// Thread contract: Submit and Stop from any thread; `done` is called on the worker thread.
#ifndef CIT_DISPATCH_INGEST_VEHICLE_TAKEOVER_H_
#define CIT_DISPATCH_INGEST_VEHICLE_TAKEOVER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "dispatch-server/store/store.h"

namespace cit::dispatch {

class VehicleTakeovers {
 public:
  // What the caller needs back when the takeover is done (the stream and its Hello).
  using Context = std::shared_ptr<void>;
  using Done =
      std::function<void(const std::string& vehicle, Context ctx, absl::StatusOr<uint64_t> token)>;

  // `store` must outlive this object.
  VehicleTakeovers(Store* store, Done done);
  ~VehicleTakeovers();
  VehicleTakeovers(const VehicleTakeovers&) = delete;
  VehicleTakeovers& operator=(const VehicleTakeovers&) = delete;

  void Submit(std::string vehicle, Context ctx);
  void Stop();

 private:
  struct Request {
    std::string vehicle;
    Context ctx;
  };
  void Loop();

  Store* store_;
  Done done_;
  std::mutex mu_;  // guards queue_, stop_
  std::condition_variable cv_;
  std::deque<Request> queue_;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_INGEST_VEHICLE_TAKEOVER_H_
