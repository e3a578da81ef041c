using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace LightVM.State;

/// <summary>
/// The daemon's persistent state: one SQLite database in WAL mode with <c>synchronous=FULL</c>, so a committed
/// write survives a crash or power loss. Each <see cref="RecordCollection{T}"/> is one table of JSON documents keyed
/// by id; areas (runtime, images) own their collections and know nothing of each other.
/// </summary>
/// <remarks>
/// One connection guarded by one lock: SQLite serialises writers anyway, every statement is short, and one
/// connection keeps the WAL checkpointing simple. Reads and writes cost O(log n) in the number of records, so
/// adding a pod costs the same with 1 or 1,000 present.
/// </remarks>
public sealed class StateStore : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly Lock _lock = new();
    private readonly JsonSerializerOptions _json;
    private bool _disposed;

    private StateStore(string path, SqliteConnection connection, JsonSerializerOptions json)
    {
        Path = path;
        _connection = connection;
        _json = json;
    }

    /// <summary>Path of the database file.</summary>
    public string Path { get; }

    /// <summary>Opens (creating if needed) the store at <paramref name="path"/>.</summary>
    /// <exception cref="StateException">The file cannot be opened or is not a valid store.</exception>
    public static StateStore Open(string path, JsonSerializerOptions? json = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        };
        var connection = new SqliteConnection(builder.ToString());
        try
        {
            connection.Open();
            using var pragma = connection.CreateCommand();
            // WAL: readers never block the writer; FULL: fsync on every commit, the durability we promise.
            pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000; " +
                                 "PRAGMA foreign_keys=ON; " +
                                 "CREATE TABLE IF NOT EXISTS lightvm_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);";
            pragma.ExecuteNonQuery();
            using var check = connection.CreateCommand();
            check.CommandText = "PRAGMA quick_check;";
            var result = check.ExecuteScalar() as string;
            if (!string.Equals(result, "ok", StringComparison.Ordinal))
            {
                throw new StateException($"state database {path} failed its integrity check: {result}");
            }
        }
        catch (SqliteException e)
        {
            connection.Dispose();
            throw new StateException($"cannot open state database {path}: {e.Message}", e);
        }
        catch
        {
            connection.Dispose();
            throw;
        }

        return new StateStore(path, connection, json ?? DefaultJson);
    }

    /// <summary>JSON settings used when the caller gives none: camelCase, enums as strings.</summary>
    public static JsonSerializerOptions DefaultJson { get; } = new(JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    /// <summary>Returns the collection <paramref name="name"/>, creating its table on first use.</summary>
    /// <param name="name">Table name: lower-case letters, digits and underscores.</param>
    public RecordCollection<T> GetCollection<T>(string name)
        where T : class
    {
        if (string.IsNullOrEmpty(name) || !name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_'))
        {
            throw new ArgumentException($"invalid collection name '{name}'", nameof(name));
        }

        Execute(c =>
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = $"CREATE TABLE IF NOT EXISTS \"{name}\" (id TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID;";
            cmd.ExecuteNonQuery();
            return 0;
        });
        return new RecordCollection<T>(this, name, _json);
    }

    /// <summary>Runs <paramref name="body"/> with exclusive use of the connection.</summary>
    internal TResult Execute<TResult>(Func<SqliteConnection, TResult> body)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            try
            {
                return body(_connection);
            }
            catch (SqliteException e)
            {
                throw new StateException($"state database {Path}: {e.Message}", e);
            }
        }
    }

    /// <summary>Runs <paramref name="body"/> inside one transaction: all of it is stored, or none of it.</summary>
    internal TResult InTransaction<TResult>(Func<SqliteConnection, SqliteTransaction, TResult> body) =>
        Execute(c =>
        {
            using var tx = c.BeginTransaction();
            var result = body(c, tx);
            tx.Commit();
            return result;
        });

    /// <summary>Checkpoints the WAL into the main file and closes the database.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            try
            {
                using var cmd = _connection.CreateCommand();
                cmd.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
                cmd.ExecuteNonQuery();
            }
            catch (SqliteException)
            {
                // A failed checkpoint loses nothing: the WAL is replayed on the next open.
            }

            _connection.Dispose();
        }
    }
}
