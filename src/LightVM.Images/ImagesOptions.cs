namespace LightVM.Images;

/// <summary>Image pulls and the image store. TOML section <c>[images]</c>. Keys arrive with the image issue.</summary>
public sealed class ImagesOptions
{
    /// <summary>One message per invalid key, each starting with the key.</summary>
    public IEnumerable<string> Validate(string prefix)
    {
        _ = prefix;
        return [];
    }
}
