using LightVM.Agent.Protocol;

namespace LightVM.Agent.Containers;

/// <summary>The agent's containers by id. Lives as long as the agent: host reconnects do not touch it.</summary>
internal sealed class ContainerStore
{
    private readonly object _gate = new();
    private readonly Dictionary<string, Container> _containers = new(StringComparer.Ordinal);

    public void Add(Container container)
    {
        lock (_gate)
        {
            if (!_containers.TryAdd(container.Id, container))
            {
                throw new AgentException(AgentErrorKind.AlreadyExists, $"container {container.Id} already exists");
            }
        }
    }

    public bool Contains(string id)
    {
        lock (_gate)
        {
            return _containers.ContainsKey(id);
        }
    }

    public Container Get(string id)
    {
        lock (_gate)
        {
            return _containers.TryGetValue(id, out var container)
                ? container
                : throw new AgentException(AgentErrorKind.NotFound, $"container {id} not found");
        }
    }

    public void Remove(Container container)
    {
        lock (_gate)
        {
            if (_containers.TryGetValue(container.Id, out var current) && ReferenceEquals(current, container))
            {
                _containers.Remove(container.Id);
            }
        }
    }

    public List<Container> List()
    {
        lock (_gate)
        {
            return [.. _containers.Values];
        }
    }
}
