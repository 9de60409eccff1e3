package org.attnface.engine.io;

import java.nio.ByteBuffer;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.SeekableByteChannel;

/** A read-only channel over a byte array: lets the fuzz test run the file reader without the disk. */
final class ByteArrayChannel implements SeekableByteChannel {
    private final byte[] bytes;
    private long position;
    private boolean open = true;

    ByteArrayChannel(byte[] bytes) { this.bytes = bytes; }

    @Override public int read(ByteBuffer dst) {
        if (position >= bytes.length) return -1;
        int n = (int) Math.min(dst.remaining(), bytes.length - position);
        dst.put(bytes, (int) position, n);
        position += n;
        return n;
    }

    @Override public int write(ByteBuffer src) { throw new NonWritableChannelException(); }

    @Override public long position() { return position; }

    @Override public SeekableByteChannel position(long p) {
        if (p < 0) throw new IllegalArgumentException("negative position " + p);
        position = p;
        return this;
    }

    @Override public long size() { return bytes.length; }

    @Override public SeekableByteChannel truncate(long size) { throw new NonWritableChannelException(); }

    @Override public boolean isOpen() { return open; }

    @Override public void close() { open = false; }
}
