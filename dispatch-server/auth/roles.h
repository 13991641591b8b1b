// Operator roles and the per-RPC permission table of the operator API (DESIGN §9).
//
//   PermissionTable table = PermissionTable::Default();
//   if (!table.Allows("/cit.v1.Alerts/AckAlert", Role::kAuditor)) { ... PERMISSION_DENIED ... }
//
// Methods absent from the table are denied to every role except admin, so a new RPC is closed
// until someone decides who may call it. A few methods (health checks) are public: they need no
// token at all.
//
// Thread contract: immutable after construction; safe to share between threads.
#ifndef CIT_DISPATCH_SERVER_AUTH_ROLES_H_
#define CIT_DISPATCH_SERVER_AUTH_ROLES_H_

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace cit::dispatch {

enum class Role : std::uint8_t { kOperator, kDispatcher, kAuditor, kAdmin };

// "operator", "dispatcher", "auditor", "admin".
std::string_view RoleName(Role role);
std::optional<Role> ParseRole(std::string_view name);

// Who is calling: the token's name (recorded on every change) and its role.
struct OperatorIdentity {
  std::string name;
  Role role = Role::kOperator;
};

class PermissionTable {
 public:
  // The table documented in proto/cit/v1/dispatch.proto.
  static PermissionTable Default();

  // `full_method` as gRPC names it on the wire: "/cit.v1.Alerts/AckAlert".
  void Allow(std::string full_method, std::initializer_list<Role> roles);
  void MakePublic(std::string full_method);

  bool IsPublic(std::string_view full_method) const;
  bool Allows(std::string_view full_method, Role role) const;

 private:
  std::map<std::string, std::set<Role>, std::less<>> allowed_;
  std::set<std::string, std::less<>> public_;
};

}  // namespace cit::dispatch

#endif  // CIT_DISPATCH_SERVER_AUTH_ROLES_H_
