using V1 = LightVM.Protos.Cri.V1;

namespace LightVM.Cri.Services;

/// <summary>
/// CRI ImageService. One partial file per RPC group; RPCs not built yet answer UNIMPLEMENTED naming themselves.
/// </summary>
internal sealed partial class ImageService : V1.ImageService.ImageServiceBase
{
}
