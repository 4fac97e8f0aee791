package fsinfo

import (
	"fmt"
	"syscall"
)

// fsMagic names filesystems by their statfs(2) magic number (linux/magic.h and
// the filesystems' own headers) and tells whether they are remote or virtual, that
// is, places where file locks, mmap and change notifications are not to be trusted.
var fsMagic = map[uint32]struct {
	name    string
	network bool
}{
	// network and cluster filesystems
	0x6969:     {"nfs", true},
	0x517B:     {"smb", true},
	0xFF534D42: {"cifs", true},
	0xFE534D42: {"smb2", true},
	0x65735546: {"fuse", true},
	0x01021997: {"9p", true},
	0x5346414F: {"afs", true},
	0x6B414653: {"kafs", true},
	0x00C36400: {"ceph", true},
	0x73757245: {"coda", true},
	0x564C:     {"ncp", true},
	0x01161970: {"gfs2", true},
	0x7461636F: {"ocfs2", true},
	0x0BD00BD0: {"lustre", true},
	0x47504653: {"gpfs", true},
	0x013111A8: {"ibrix", true},
	0x19830326: {"fhgfs", true},
	0x786F4256: {"vboxsf", true},
	0xBACBACBC: {"vmhgfs", true},

	// local filesystems
	0xEF53:     {"ext4", false}, // also ext2 and ext3
	0x58465342: {"xfs", false},
	0x9123683E: {"btrfs", false},
	0x2FC12FC1: {"zfs", false},
	0xF2F52010: {"f2fs", false},
	0xCA451A4E: {"bcachefs", false},
	0x01021994: {"tmpfs", false},
	0x858458F6: {"ramfs", false},
	0x794C7630: {"overlayfs", false},
	0x4D44:     {"vfat", false},
	0x2011BAB0: {"exfat", false},
	0x5346544E: {"ntfs", false},
	0x7366746E: {"ntfs3", false},
	0x4244:     {"hfs", false},
	0x482B:     {"hfsplus", false},
	0x3153464A: {"jfs", false},
	0x52654973: {"reiserfs", false},
	0x3434:     {"nilfs", false},
	0x9660:     {"iso9660", false},
	0x15013346: {"udf", false},
	0x73717368: {"squashfs", false},
	0xE0F5E1E2: {"erofs", false},
	0x28CD3D45: {"cramfs", false},
	0x9FA0:     {"proc", false},
	0x62656572: {"sysfs", false},
	0x63677270: {"cgroup2", false},
	0x27E0EB:   {"cgroup", false},
	0x1CD1:     {"devpts", false},
}

// FSType returns the name of the filesystem holding path and whether it is a
// network (or FUSE) filesystem. An unknown filesystem is named by its magic number
// in hex and reported as local.
func FSType(path string) (name string, network bool, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return "", false, fmt.Errorf("statfs %s: %w", path, err)
	}
	magic := uint32(st.Type)
	if fs, ok := fsMagic[magic]; ok {
		return fs.name, fs.network, nil
	}
	return fmt.Sprintf("0x%X", magic), false, nil
}
