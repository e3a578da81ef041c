namespace LightVM.Cri.Instrumentation;

/// <summary>Counts calls in progress, so shutdown can say how many it waits for.</summary>
public sealed class InFlightCalls
{
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public Scope Enter()
    {
        Interlocked.Increment(ref _count);
        return new Scope(this);
    }

    public readonly struct Scope : IDisposable
    {
        private readonly InFlightCalls _owner;

        internal Scope(InFlightCalls owner) => _owner = owner;

        public void Dispose() => Interlocked.Decrement(ref _owner._count);
    }
}
