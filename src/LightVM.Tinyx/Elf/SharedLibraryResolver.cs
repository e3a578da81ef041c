namespace LightVM.Tinyx.Elf;

/// <summary>
/// Finds the exact set of files the dynamic linker opens to start an ELF program, by doing what glibc's ld.so does:
/// PT_INTERP first, then DT_NEEDED breadth-first; for each name the DT_RPATH chain (only when the requesting object
/// has no DT_RUNPATH), then its DT_RUNPATH, then the ld.so.conf directories and the built-in ones (skipped under
/// DF_1_NODEFLIB); $ORIGIN expanded per object; a candidate of the wrong ELF class or machine is skipped; a name
/// already loaded (by DT_NEEDED name or DT_SONAME) is not searched again. LD_LIBRARY_PATH and hwcaps subdirectories
/// are ignored: the guest has neither, and the baseline library runs on any CPU.
/// </summary>
public sealed class SharedLibraryResolver
{
    private readonly LibrarySearchOptions _options;
    private readonly Lazy<IReadOnlyList<string>> _cacheDirectories;

    public SharedLibraryResolver(LibrarySearchOptions? options = null)
    {
        _options = options ?? new LibrarySearchOptions();
        _cacheDirectories = new Lazy<IReadOnlyList<string>>(() => LdSoConf.ReadDirectories(_options.Root, _options.LdSoConfPath));
    }

    /// <summary>Resolves the closure of the ELF at <paramref name="hostPath"/> that will sit at <paramref name="guestPath"/>.</summary>
    public ElfClosure Resolve(string hostPath, string guestPath)
    {
        if (!File.Exists(hostPath))
        {
            throw new TinyxException(TinyxErrorKind.NotFound, $"ELF file '{hostPath}' does not exist");
        }

        guestPath = GuestPath.Normalize(guestPath);
        var elf = ElfFile.Read(hostPath);
        var realHost = new FileInfo(hostPath).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? Path.GetFullPath(hostPath);

        // The main program's $ORIGIN is the directory of its real path; it sits at guestPath as a regular file.
        var root = new Loaded(elf, guestPath, GuestPath.Directory(guestPath), Path.GetDirectoryName(realHost)!, null);
        var dependencies = new List<ElfDependency>();
        var byName = new Dictionary<string, Loaded>(StringComparer.Ordinal);
        var byFile = new Dictionary<string, Loaded>(StringComparer.Ordinal);
        if (elf.Interpreter is { } interpreter)
        {
            var found = Locate(Candidate.InSysRoot(GuestPath.Normalize(interpreter)), elf)
                ?? throw new TinyxException(TinyxErrorKind.NotFound, $"interpreter '{interpreter}' of '{hostPath}' was not found in {_options.Root.HostDirectory}");
            var loaded = Load(found, null);
            dependencies.Add(new ElfDependency(interpreter, ElfDependencyKind.Interpreter, found.GuestPath, found.HostPath, guestPath, found.Relocated));
            Remember(byName, byFile, interpreter, loaded, found.RealHostPath);
        }

        var queue = new Queue<Loaded>();
        queue.Enqueue(root);
        while (queue.Count > 0)
        {
            var requester = queue.Dequeue();
            foreach (var name in requester.Elf.Needed)
            {
                if (byName.ContainsKey(name))
                {
                    continue;
                }

                var searched = new List<string>();
                var found = Search(name, requester, elf, searched)
                    ?? throw new TinyxException(
                        TinyxErrorKind.NotFound,
                        $"library '{name}' needed by '{requester.GuestPath}' was not found (searched: {string.Join(", ", searched.Distinct())})");
                dependencies.Add(new ElfDependency(name, ElfDependencyKind.Needed, found.GuestPath, found.HostPath, requester.GuestPath, found.Relocated));
                if (byFile.TryGetValue(found.RealHostPath, out var same))
                {
                    // The loader notices the same file under another name and maps it once.
                    byName[name] = same;
                    continue;
                }

                var loaded = Load(found, requester);
                Remember(byName, byFile, name, loaded, found.RealHostPath);
                queue.Enqueue(loaded);
            }
        }

        return new ElfClosure(guestPath, hostPath, elf, dependencies);
    }

    private static void Remember(Dictionary<string, Loaded> byName, Dictionary<string, Loaded> byFile, string name, Loaded loaded, string realHostPath)
    {
        byName[name] = loaded;
        if (loaded.Elf.SoName is { } soname)
        {
            byName.TryAdd(soname, loaded);
        }

        byFile.TryAdd(realHostPath, loaded);
    }

    private Loaded Load(Found found, Loaded? loader)
    {
        var elf = ElfFile.Read(found.RealHostPath);
        var guestOrigin = GuestPath.Directory(found.GuestPath);
        var hostOrigin = found.Relocated ? Path.GetDirectoryName(found.HostPath)! : _options.Root.ToHost(guestOrigin);
        return new Loaded(elf, found.GuestPath, guestOrigin, hostOrigin, loader);
    }

    private Found? Search(string name, Loaded requester, ElfFile program, List<string> searched)
    {
        if (name.Contains('/', StringComparison.Ordinal))
        {
            var direct = Expand(name, requester);
            return direct is null ? null : Locate(direct.Value, program);
        }

        var directories = new List<Candidate>();
        if (requester.Elf.RunPath is null)
        {
            for (var l = requester; l is not null; l = l.Loader)
            {
                if (l.Elf.RunPath is null)
                {
                    directories.AddRange(l.Elf.RPath.Select(d => Expand(d, l)).OfType<Candidate>());
                }
            }
        }
        else
        {
            directories.AddRange(requester.Elf.RunPath.Select(d => Expand(d, requester)).OfType<Candidate>());
        }

        if (!requester.Elf.NoDefaultLibraries)
        {
            directories.AddRange(_cacheDirectories.Value.Concat(_options.DefaultDirectories).Select(Candidate.InSysRoot));
        }

        foreach (var directory in directories)
        {
            searched.Add(directory.GuestPath);
            if (Locate(directory.Append(name), program) is { } found)
            {
                return found;
            }
        }

        return null;
    }

    /// <summary>Expands $ORIGIN; a directory using $LIB or $PLATFORM is skipped (null): their values are loader-build specific.</summary>
    private Candidate? Expand(string path, Loaded owner)
    {
        if (!path.Contains('$', StringComparison.Ordinal))
        {
            // A relative search directory would be relative to the working directory at run time: never a good answer.
            return path.StartsWith('/') ? Candidate.InSysRoot(GuestPath.Normalize(path)) : null;
        }

        var guest = path.Replace("${ORIGIN}", owner.GuestOrigin, StringComparison.Ordinal).Replace("$ORIGIN", owner.GuestOrigin, StringComparison.Ordinal);
        if (guest.Contains('$', StringComparison.Ordinal) || !guest.StartsWith('/'))
        {
            return null;
        }

        var host = path.Replace("${ORIGIN}", owner.HostOrigin, StringComparison.Ordinal).Replace("$ORIGIN", owner.HostOrigin, StringComparison.Ordinal);
        var relocated = _options.Root.ToHost(GuestPath.Normalize(guest)) != Path.GetFullPath(host);
        return relocated ? new Candidate(GuestPath.Normalize(guest), Path.GetFullPath(host)) : Candidate.InSysRoot(GuestPath.Normalize(guest));
    }

    private Found? Locate(Candidate candidate, ElfFile program)
    {
        string real;
        if (candidate.HostPath is null)
        {
            var resolved = _options.Root.Resolve(candidate.GuestPath);
            if (resolved is null || !File.Exists(resolved.Value.HostPath))
            {
                return null;
            }

            real = resolved.Value.HostPath;
        }
        else
        {
            if (!File.Exists(candidate.HostPath))
            {
                return null;
            }

            real = new FileInfo(candidate.HostPath).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? candidate.HostPath;
        }

        if (!ElfFile.TryReadIdentity(real, out var elfClass, out var machine) || elfClass != program.Class || machine != program.Machine)
        {
            return null;
        }

        var relocated = candidate.HostPath is not null;
        return new Found(candidate.GuestPath, relocated ? candidate.HostPath! : _options.Root.ToHost(candidate.GuestPath), real, relocated);
    }

    private sealed record Loaded(ElfFile Elf, string GuestPath, string GuestOrigin, string HostOrigin, Loaded? Loader);

    /// <summary>A guest path to try; HostPath is set only for $ORIGIN paths that live outside the sysroot mapping.</summary>
    private readonly record struct Candidate(string GuestPath, string? HostPath)
    {
        public static Candidate InSysRoot(string guestPath) => new(guestPath, null);

        public Candidate Append(string name) => new(Elf.GuestPath.Combine(GuestPath, name), HostPath is null ? null : Path.Combine(HostPath, name));
    }

    private sealed record Found(string GuestPath, string HostPath, string RealHostPath, bool Relocated);
}
