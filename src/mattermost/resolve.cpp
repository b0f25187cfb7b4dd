#include "mattermost/resolve.hpp"

namespace tocsin::mattermost {

ApiResult<Channel> ResolveChannel(Client& client, std::string_view ref) {
  const auto slash = ref.find('/');
  if (slash == std::string_view::npos) return client.GetChannel(std::string(ref));
  return client.GetChannelByName(std::string(ref.substr(0, slash)),
                                 std::string(ref.substr(slash + 1)));
}

}  // namespace tocsin::mattermost
