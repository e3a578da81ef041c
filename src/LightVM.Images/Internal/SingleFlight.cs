namespace LightVM.Images.Internal;

/// <summary>
/// Runs one piece of work per key at a time and lets every concurrent caller for that key wait on it: two pulls of
/// one image download each blob once. The work is cancelled only when every waiter has given up.
/// </summary>
internal sealed class SingleFlight
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Flight> _flights = new(StringComparer.Ordinal);

    /// <summary>Number of keys with work in progress.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _flights.Count;
            }
        }
    }

    /// <summary>Runs <paramref name="work"/> for <paramref name="key"/>, or joins the run already in progress.</summary>
    public async Task RunAsync(string key, Func<CancellationToken, Task> work, CancellationToken cancellationToken)
    {
        Flight flight;
        lock (_lock)
        {
            if (!_flights.TryGetValue(key, out flight!))
            {
                flight = new Flight();
                _flights.Add(key, flight);
                flight.Task = Start(key, flight, work);
            }

            flight.Waiters++;
        }

        var abandoned = false;
        try
        {
            await flight.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_lock)
            {
                flight.Waiters--;
                if (flight.Waiters == 0 && !flight.Task.IsCompleted)
                {
                    // Nobody wants the result any more; a later caller starts afresh rather than joining a dying run.
                    flight.Cancellation.Cancel();
                    abandoned = true;
                    if (_flights.TryGetValue(key, out var current) && current == flight)
                    {
                        _flights.Remove(key);
                    }
                }
            }

            if (abandoned)
            {
                // The last caller leaves only after the work has cleaned up, so it returns to a tidy store.
                try
                {
                    await flight.Task.ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // Its outcome no longer matters; the caller is already leaving with its own exception.
                }
            }
        }
    }

    private Task Start(string key, Flight flight, Func<CancellationToken, Task> work) =>
        Task.Run(
            async () =>
            {
                try
                {
                    await work(flight.Cancellation.Token).ConfigureAwait(false);
                }
                finally
                {
                    lock (_lock)
                    {
                        if (_flights.TryGetValue(key, out var current) && current == flight)
                        {
                            _flights.Remove(key);
                        }
                    }

                    // The token source is not disposed: a waiter leaving late may still cancel it, and it holds no timer.
                }
            },
            CancellationToken.None);

    private sealed class Flight
    {
        public CancellationTokenSource Cancellation { get; } = new();

        public Task Task { get; set; } = Task.CompletedTask;

        public int Waiters { get; set; }
    }
}
